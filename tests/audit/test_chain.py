"""The audit trail: record(), the sealer, append-only tables, tamper detection, the API and audit_verify."""

import datetime as dt
import io
import json
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.audit.chain import event_digest, expand_ranges, value_digest
from apps.audit.models import AuditEvent, AuditSeal
from apps.audit.services import audit_seal, record
from apps.audit.verification import audit_verify

from ..factories import OrganizationFactory, UserFactory


def later(seconds=60):
    """A sealer run far enough in the future that every event recorded so far is old enough."""
    return timezone.now() + dt.timedelta(seconds=seconds)


def chain_of(org, count, action="task.view"):
    return [record(action=action, organization=org, object_type="task", object_id=n) for n in range(count)]


def sealed_chain(org, count=5):
    events = chain_of(org, count)
    assert audit_seal(now=later()) == count
    return events


def execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@contextmanager
def tampering(table="audit_auditevent"):
    """What an attacker with database access does first: switch the append-only trigger off."""
    # The test's own transaction holds deferred foreign-key checks, which ALTER TABLE would refuse.
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    try:
        yield
    finally:
        execute("SET CONSTRAINTS ALL IMMEDIATE")
        execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        execute("SET CONSTRAINTS ALL DEFERRED")


def forge_event(*, event_id, organization_id, action="export.download"):
    """INSERT a well-formed event (its own digest is right) with a chosen id, as raw SQL would."""
    forged = AuditEvent(id=event_id, organization_id=organization_id, at=timezone.now(), actor_label="mallory",
                        action=action, object_type="export", object_id="1", data={})
    forged.digest = event_digest(forged)
    execute(
        "INSERT INTO audit_auditevent (id, organization_id, at, actor_id, actor_label, via, action, object_type,"
        " object_id, before_digest, after_digest, data, ip, digest)"
        " VALUES (%s, %s, %s, NULL, %s, '', %s, %s, %s, '', '', '{}'::jsonb, '', %s)",
        [event_id, organization_id, forged.at, forged.actor_label, forged.action, forged.object_type,
         forged.object_id, forged.digest],
    )


def edit_and_save(instance, **changes):
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.save()


def burnt_id(org):
    """An id the sequence handed out to a transaction that rolled back: a real gap in the ids."""
    with pytest.raises(RuntimeError), transaction.atomic():
        event = record(action="task.view", organization=org)
        raise RuntimeError("rolled back")
    assert not AuditEvent.objects.filter(pk=event.pk).exists()
    return event.pk


# --- record and seal --------------------------------------------------------------------------


def test_record_writes_one_event_with_its_digest(db):
    org, user = OrganizationFactory(), UserFactory(email="Ann@Example.test")
    returned = record(action="project.update", organization=org, actor=user, object_type="project", object_id=7,
                      before={"name": "old"}, after={"name": "new"}, data={"fields": ["name"]})
    event = AuditEvent.objects.get()
    assert event.pk == returned.pk
    assert (event.organization_id, event.actor_id, event.actor_label) == (org.pk, user.pk, user.email)
    assert (event.action, event.object_type, event.object_id) == ("project.update", "project", "7")
    # The states themselves stay out of the log (PHI); their digests prove what they were.
    assert event.before_digest == value_digest({"name": "old"}) != event.after_digest
    assert "old" not in json.dumps(event.data)
    assert len(event.digest) == 64 and event.digest == event_digest(event)


def test_events_of_each_organization_and_of_the_platform_are_sealed_in_separate_chains(db):
    acme, globex = OrganizationFactory(), OrganizationFactory()
    events = {acme.pk: [], globex.pk: [], None: []}
    for org in (acme, None, globex, acme, globex, None, acme):  # interleaved ids
        events[getattr(org, "pk", None)].append(record(action="task.view", organization=org))

    assert audit_seal(now=later()) == 7

    seals = {seal.organization_id: seal for seal in AuditSeal.objects.all()}
    assert set(seals) == {acme.pk, globex.pk, None}
    for org_id, chain in events.items():
        seal = seals[org_id]
        ids = [e.pk for e in chain]
        assert (seal.first_event_id, seal.last_event_id, seal.event_count) == (ids[0], ids[-1], len(ids))
        assert seal.previous is None
        assert audit_verify(organization_id=org_id) == {"ok": True, "checked": len(ids), "first_bad": None}


def test_a_later_seal_continues_the_chain_from_the_previous_one(db):
    org = OrganizationFactory()
    chain_of(org, 3)
    audit_seal(now=later())
    more = chain_of(org, 2)
    assert audit_seal(now=later()) == 2
    assert audit_seal(now=later()) == 0  # nothing left: sealing twice does not seal twice
    first, second = AuditSeal.objects.filter(organization=org).order_by("id")
    assert second.previous == first
    assert (second.first_event_id, second.last_event_id, second.event_count) == (more[0].pk, more[1].pk, 2)
    assert audit_verify(organization_id=org.pk) == {"ok": True, "checked": 5, "first_bad": None}


def test_events_younger_than_the_seal_delay_wait_and_still_verify(db):
    org = OrganizationFactory()
    event = record(action="task.view", organization=org)
    delay = dt.timedelta(seconds=settings.AUDIT_SEAL_DELAY_SECONDS)

    assert audit_seal(now=timezone.now()) == 0
    assert audit_seal(now=event.at + delay - dt.timedelta(milliseconds=1)) == 0
    assert not AuditSeal.objects.exists()
    assert audit_verify(organization_id=org.pk) == {"ok": True, "checked": 1, "first_bad": None}

    assert audit_seal(now=event.at + delay) == 1
    assert AuditSeal.objects.get().last_event_id == event.pk


# --- append-only ------------------------------------------------------------------------------


def test_the_database_refuses_to_change_or_delete_audit_events(db):
    org = OrganizationFactory()
    event = sealed_chain(org, 1)[0]
    refusals = [
        lambda: AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        lambda: AuditEvent.objects.get(pk=event.pk).delete(),
        lambda: edit_and_save(AuditEvent.objects.get(pk=event.pk), action="nothing.happened"),
        lambda: execute("UPDATE audit_auditevent SET action = 'nothing.happened'"),
        lambda: execute("DELETE FROM audit_auditevent"),
    ]
    for attempt in refusals:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert list(AuditEvent.objects.values_list("pk", "action")) == [(event.pk, "task.view")]
    assert audit_verify(organization_id=org.pk)["ok"] is True


def test_the_database_refuses_to_change_or_delete_seals(db):
    org = OrganizationFactory()
    sealed_chain(org, 2)
    seal = AuditSeal.objects.get()
    refusals = [
        lambda: AuditSeal.objects.filter(pk=seal.pk).update(hash="0" * 64),
        lambda: AuditSeal.objects.filter(pk=seal.pk).delete(),
        lambda: execute("UPDATE audit_auditseal SET event_count = 1"),
        lambda: execute("DELETE FROM audit_auditseal"),
    ]
    for attempt in refusals:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert AuditSeal.objects.get().hash == seal.hash


# --- tamper detection -------------------------------------------------------------------------


def test_an_altered_sealed_event_is_found(db):
    org = OrganizationFactory()
    events = sealed_chain(org)
    target = events[2]
    with tampering():
        execute("UPDATE audit_auditevent SET action = 'task.nothing' WHERE id = %s", [target.pk])

    result = audit_verify(organization_id=org.pk)
    assert result["ok"] is False
    assert (result["first_bad"]["event"], result["first_bad"]["reason"]) == (target.pk, "altered")
    assert result["checked"] == 2


def test_an_altered_sealed_event_is_found_even_when_its_digest_is_rewritten(db):
    org = OrganizationFactory()
    events = sealed_chain(org)
    target = events[1]
    with tampering():
        execute("UPDATE audit_auditevent SET actor_label = 'someone-else@example.test' WHERE id = %s", [target.pk])
        forged = AuditEvent.objects.get(pk=target.pk)
        execute("UPDATE audit_auditevent SET digest = %s WHERE id = %s", [event_digest(forged), target.pk])
    assert AuditEvent.objects.get(pk=target.pk).digest == event_digest(forged)  # the row looks consistent

    result = audit_verify(organization_id=org.pk)
    assert result["ok"] is False
    assert (result["first_bad"]["event"], result["first_bad"]["reason"]) == (target.pk, "altered")


@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
def test_a_deleted_sealed_event_is_found(db, position):
    org = OrganizationFactory()
    events = sealed_chain(org)
    target = events[position]
    with tampering():
        execute("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])

    result = audit_verify(organization_id=org.pk)
    assert result["ok"] is False
    assert result["first_bad"]["event"] == target.pk
    assert "missing" in result["first_bad"]["reason"]


def test_an_event_inserted_inside_a_sealed_range_is_found(db):
    org = OrganizationFactory()
    chain_of(org, 2)
    gap = burnt_id(org)
    chain_of(org, 3)
    audit_seal(now=later())
    seal = AuditSeal.objects.get(organization=org)
    assert seal.first_event_id < gap < seal.last_event_id

    forge_event(event_id=gap, organization_id=org.pk)  # INSERT is allowed: no trigger to switch off

    result = audit_verify(organization_id=org.pk)
    assert result["ok"] is False
    assert result["first_bad"]["event"] == gap
    assert "inserted" in result["first_bad"]["reason"]


def test_an_event_inserted_below_what_the_sealer_already_passed_is_found(db):
    """Past this chain's last seal, but below ids another chain's seal already covered."""
    acme, globex = OrganizationFactory(), OrganizationFactory()
    chain_of(acme, 3)
    chain_of(globex, 1)
    gap = burnt_id(globex)
    chain_of(globex, 2)
    audit_seal(now=later())
    assert gap > AuditSeal.objects.get(organization=acme).last_event_id

    forge_event(event_id=gap, organization_id=acme.pk)

    result = audit_verify(organization_id=acme.pk)
    assert result["ok"] is False
    assert (result["first_bad"]["event"], "inserted" in result["first_bad"]["reason"]) == (gap, True)
    assert audit_verify(organization_id=globex.pk)["ok"] is True


def test_an_altered_event_not_yet_sealed_is_found(db):
    org = OrganizationFactory()
    sealed_chain(org, 3)
    pending = chain_of(org, 2)  # recorded after the seal: not sealed yet
    with tampering():
        execute("UPDATE audit_auditevent SET data = '{\"note\": \"edited\"}'::jsonb WHERE id = %s", [pending[1].pk])

    result = audit_verify(organization_id=org.pk)
    assert result["ok"] is False
    assert (result["first_bad"]["event"], result["first_bad"]["reason"]) == (pending[1].pk, "altered")
    assert result["checked"] == 4


def test_an_altered_seal_is_found(db):
    org = OrganizationFactory()
    events = sealed_chain(org, 3)
    with tampering("audit_auditseal"):
        execute("UPDATE audit_auditseal SET hash = %s", ["f" * 64])

    result = audit_verify(organization_id=org.pk)
    assert result["ok"] is False
    assert result["first_bad"]["event"] == events[0].pk
    assert "seal" in result["first_bad"]["reason"]


def test_only_the_first_bad_event_is_reported_and_other_chains_stay_ok(db):
    acme, globex = OrganizationFactory(), OrganizationFactory()
    acme_events = chain_of(acme, 5)
    chain_of(globex, 4)
    chain_of(None, 2)
    audit_seal(now=later())
    with tampering():
        execute("UPDATE audit_auditevent SET object_id = '999' WHERE id IN (%s, %s)",
                [acme_events[3].pk, acme_events[1].pk])

    result = audit_verify(organization_id=acme.pk)
    assert result["ok"] is False
    assert result["first_bad"]["event"] == acme_events[1].pk
    assert audit_verify(organization_id=globex.pk) == {"ok": True, "checked": 4, "first_bad": None}
    assert audit_verify(organization_id=None) == {"ok": True, "checked": 2, "first_bad": None}


# --- the sealer and concurrent writers (two real connections) ---------------------------------


def _second_connection():
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"] or None, password=s["PASSWORD"] or None,
        host=s["HOST"] or None, port=s["PORT"] or None,
    )


def _insert_event_in(conn, org):
    """The other session records an event the way record() does, in its own open transaction."""
    event = AuditEvent(organization_id=org.pk, at=timezone.now(), actor_label="", action="task.submit",
                       object_type="task", object_id="42", data={})
    event.digest = event_digest(event)
    row = conn.execute(
        "INSERT INTO audit_auditevent (organization_id, at, actor_id, actor_label, via, action, object_type,"
        " object_id, before_digest, after_digest, data, ip, digest)"
        " VALUES (%s, %s, NULL, '', '', %s, %s, %s, '', '', '{}'::jsonb, '', %s) RETURNING id",
        [org.pk, event.at, event.action, event.object_type, event.object_id, event.digest],
    ).fetchone()
    return row[0]


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_the_sealer_does_not_seal_past_an_open_writing_transaction(transactional_db, settings, outcome):
    settings.AUDIT_SEAL_DELAY_SECONDS = 0.2
    org = OrganizationFactory()
    early = record(action="task.view", organization=org)
    time.sleep(0.3)  # `early` grows older than the delay before the other transaction begins
    other = _second_connection()
    try:
        pending_id = _insert_event_in(other, org)  # uncommitted: invisible here, id already taken
        after = record(action="task.view", organization=org)
        assert after.pk > pending_id

        assert audit_seal(now=later(3600)) == 1  # only the event from before the open transaction
        assert AuditSeal.objects.get().last_event_id == early.pk
        assert audit_seal(now=later(3600)) == 0

        getattr(other, outcome)()
    finally:
        other.close()

    expected = [early.pk, pending_id, after.pk] if outcome == "commit" else [early.pk, after.pk]
    assert audit_seal(now=later(3600)) == len(expected) - 1
    assert sorted(AuditEvent.objects.filter(organization=org).values_list("pk", flat=True)) == expected
    covered = [i for seal in AuditSeal.objects.filter(organization=org) for i in expand_ranges(seal.event_ids)]
    assert sorted(covered) == expected
    last_seal = AuditSeal.objects.order_by("-id").first()
    assert last_seal.last_event_id == after.pk
    assert audit_verify(organization_id=org.pk) == {"ok": True, "checked": len(expected), "first_bad": None}


# --- API --------------------------------------------------------------------------------------


def test_verify_endpoint_reports_a_clean_chain(tenant, as_role, other_tenant):
    audit_seal(now=later())
    record(action="task.view", organization=tenant.org)  # pending events are checked too
    count = AuditEvent.objects.filter(organization=tenant.org).count()

    response = as_role("manager").post("/api/v1/audit/verify")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "checked": count, "first_bad": None}
    # Verifying is itself audited.
    assert AuditEvent.objects.filter(organization=tenant.org, action="audit.verify").count() == 1
    assert as_role("owner").post("/api/v1/audit/verify").json()["checked"] == count + 1


def test_verify_endpoint_reports_the_tampered_event(tenant, as_role, other_tenant):
    audit_seal(now=later())
    target = AuditEvent.objects.filter(organization=tenant.org).order_by("id")[1]
    with tampering():
        execute("UPDATE audit_auditevent SET action = 'token.nothing' WHERE id = %s", [target.pk])

    body = as_role("manager").post("/api/v1/audit/verify").json()

    assert body["ok"] is False
    assert (body["first_bad"]["event"], body["first_bad"]["reason"]) == (target.pk, "altered")
    assert body["checked"] == 1


@pytest.mark.parametrize("role", ["reviewer", "annotator", "viewer"])
def test_only_owners_and_managers_read_or_verify_the_trail(tenant, as_role, role):
    client = as_role(role)
    for response in (client.get("/api/v1/audit"), client.post("/api/v1/audit/verify")):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert not AuditEvent.objects.filter(action="audit.verify").exists()


def test_audit_list_shows_only_the_callers_organization_newest_first(tenant, other_tenant, as_role):
    record(action="project.create", organization=tenant.org, object_type="project", object_id=1)
    record(action="project.create", organization=other_tenant.org, object_type="project", object_id=2)
    record(action="platform.notice")

    response = as_role("manager").get("/api/v1/audit")

    assert response.status_code == 200
    rows = response.json()["results"]
    own = list(AuditEvent.objects.filter(organization=tenant.org).order_by("-id").values_list("pk", flat=True))
    assert [row["id"] for row in rows] == own
    assert rows[0]["action"] == "project.create" and rows[0]["object_id"] == "1"

    filtered = as_role("owner").get("/api/v1/audit", {"action": "token.create"}).json()["results"]
    assert len(filtered) == 5 and {row["action"] for row in filtered} == {"token.create"}
    assert {row["data"]["role"] for row in filtered} == {"owner", "manager", "reviewer", "annotator", "viewer"}


# --- manage.py audit_verify -------------------------------------------------------------------


def run_audit_verify(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def chain_results(stdout):
    return {line.split(": ", 1)[0]: json.loads(line.split(": ", 1)[1]) for line in stdout.splitlines()}


def test_audit_verify_command_exits_0_on_clean_chains(db):
    acme, globex = OrganizationFactory(slug="acme"), OrganizationFactory(slug="globex")
    chain_of(acme, 3)
    chain_of(globex, 2)
    chain_of(None, 1)
    audit_seal(now=later())

    code, out, err = run_audit_verify()

    assert code == 0
    assert chain_results(out) == {
        "(platform)": {"ok": True, "checked": 1, "first_bad": None},
        "acme": {"ok": True, "checked": 3, "first_bad": None},
        "globex": {"ok": True, "checked": 2, "first_bad": None},
    }
    assert "verified" in err


def test_audit_verify_command_exits_1_and_names_the_bad_event(db):
    acme, globex = OrganizationFactory(slug="acme"), OrganizationFactory(slug="globex")
    events = chain_of(acme, 4)
    chain_of(globex, 2)
    audit_seal(now=later())
    with tampering():
        execute("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])

    code, out, err = run_audit_verify()
    assert code == 1
    results = chain_results(out)
    assert results["acme"]["first_bad"]["event"] == events[2].pk
    assert "missing" in results["acme"]["first_bad"]["reason"]
    assert results["globex"]["ok"] is True
    assert "FAILED" in err

    # One organization at a time: the other one passes.
    assert run_audit_verify("--org", "globex")[0] == 0
    code, out, _ = run_audit_verify("--org", "acme")
    assert code == 1 and list(chain_results(out)) == ["acme"]


def test_audit_verify_command_refuses_an_unknown_organization(db):
    with pytest.raises(CommandError, match="unknown"):
        call_command("audit_verify", "--org", "unknown", stdout=io.StringIO(), stderr=io.StringIO())
