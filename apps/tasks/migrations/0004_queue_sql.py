"""The queue's expression indexes and the progress counters' triggers (PostgreSQL and SQLite).

Django cannot declare an index on `-priority`, and the progress counters are kept by the database so
that no write path can forget them (apps.tasks.queue, apps.tasks.progress).
"""

from django.db import migrations

OPEN = "annotations_count + in_flight < target_annotations AND NOT is_gold"
QUEUE_INDEXES = [
    f"CREATE INDEX tasks_task_queue ON tasks_task (project_id, (-priority), id) WHERE {OPEN}",
    f"CREATE INDEX tasks_task_reopened ON tasks_task (project_id, reopen_seq, (-priority), id) "
    f"WHERE reopen_seq IS NOT NULL AND {OPEN}",
]
SHARDS = 16

UPSERT = (
    "ON CONFLICT (project_id, shard, status) DO UPDATE SET "
    "tasks = tasks_progresscounter.tasks + excluded.tasks, "
    "targets = tasks_progresscounter.targets + excluded.targets, "
    "annotations = tasks_progresscounter.annotations + excluded.annotations"
)

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tasks_progress_apply() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tasks_progresscounter (project_id, shard, status, tasks, targets, annotations)
        SELECT project_id, (id % {SHARDS})::smallint, status, count(*), sum(target_annotations), sum(annotations_count)
        FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {UPSERT};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO tasks_progresscounter (project_id, shard, status, tasks, targets, annotations)
        SELECT project_id, (id % {SHARDS})::smallint, status, -count(*), -sum(target_annotations),
               -sum(annotations_count)
        FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        {UPSERT};
    ELSE
        INSERT INTO tasks_progresscounter (project_id, shard, status, tasks, targets, annotations)
        SELECT project_id, shard, status, sum(n), sum(t), sum(a) FROM (
            SELECT project_id, (id % {SHARDS})::smallint AS shard, status, -1 AS n, -target_annotations AS t,
                   -annotations_count AS a FROM old_rows
            UNION ALL
            SELECT project_id, (id % {SHARDS})::smallint, status, 1, target_annotations, annotations_count
            FROM new_rows
        ) AS delta
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(t) <> 0 OR sum(a) <> 0 ORDER BY 1, 2, 3
        {UPSERT};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

POSTGRES_TRIGGERS = [
    "CREATE TRIGGER tasks_task_progress_insert AFTER INSERT ON tasks_task REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_progress_apply()",
    "CREATE TRIGGER tasks_task_progress_update AFTER UPDATE ON tasks_task "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_progress_apply()",
    "CREATE TRIGGER tasks_task_progress_delete AFTER DELETE ON tasks_task REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_progress_apply()",
]


def _sqlite_upsert(row: str, sign: str) -> str:
    return (
        "INSERT INTO tasks_progresscounter (project_id, shard, status, tasks, targets, annotations) "
        f"VALUES ({row}.project_id, {row}.id % {SHARDS}, {row}.status, {sign}1, {sign}{row}.target_annotations, "
        f"{sign}{row}.annotations_count) {UPSERT};"
    )


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER tasks_task_progress_insert AFTER INSERT ON tasks_task BEGIN {_sqlite_upsert('NEW', '')} END",
    "CREATE TRIGGER tasks_task_progress_update AFTER UPDATE OF status, target_annotations, annotations_count "
    "ON tasks_task WHEN OLD.status IS NOT NEW.status OR OLD.target_annotations <> NEW.target_annotations "
    "OR OLD.annotations_count <> NEW.annotations_count "
    f"BEGIN {_sqlite_upsert('OLD', '-')} {_sqlite_upsert('NEW', '')} END",
    f"CREATE TRIGGER tasks_task_progress_delete AFTER DELETE ON tasks_task BEGIN {_sqlite_upsert('OLD', '-')} END",
]

BACKFILL = (
    "INSERT INTO tasks_progresscounter (project_id, shard, status, tasks, targets, annotations) "
    f"SELECT project_id, id % {SHARDS}, status, count(*), sum(target_annotations), sum(annotations_count) "
    "FROM tasks_task GROUP BY 1, 2, 3"
)


def forwards(apps, schema_editor):
    def run(sql):
        schema_editor.execute(sql, params=None)  # no placeholders: `%` is the modulo operator here

    # Statuses of #3 ("open", "completed") become the lifecycle of the queue.
    run("UPDATE tasks_task SET status = CASE WHEN annotations_count >= target_annotations THEN 'accepted' "
        "WHEN annotations_count > 0 OR in_flight > 0 THEN 'in_progress' ELSE 'new' END")
    run("UPDATE tasks_annotation SET status = 'accepted' WHERE status = 'submitted' AND source = 'import'")
    for sql in QUEUE_INDEXES:
        run(sql)
    run(BACKFILL)
    if schema_editor.connection.vendor == "postgresql":
        run(POSTGRES_FUNCTION)
        for sql in POSTGRES_TRIGGERS:
            run(sql)
    else:
        for sql in SQLITE_TRIGGERS:
            run(sql)


def backwards(apps, schema_editor):
    def run(sql):
        schema_editor.execute(sql, params=None)

    for name in ("insert", "update", "delete"):
        if schema_editor.connection.vendor == "postgresql":
            run(f"DROP TRIGGER IF EXISTS tasks_task_progress_{name} ON tasks_task")
        else:
            run(f"DROP TRIGGER IF EXISTS tasks_task_progress_{name}")
    if schema_editor.connection.vendor == "postgresql":
        run("DROP FUNCTION IF EXISTS tasks_progress_apply()")
    run("DELETE FROM tasks_progresscounter")
    run("DROP INDEX IF EXISTS tasks_task_queue")
    run("DROP INDEX IF EXISTS tasks_task_reopened")
    run("UPDATE tasks_task SET status = CASE WHEN annotations_count >= target_annotations THEN 'completed' "
        "ELSE 'open' END")


class Migration(migrations.Migration):
    dependencies = [("tasks", "0003_queue")]

    operations = [migrations.RunPython(forwards, backwards)]
