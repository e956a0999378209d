"""Changing a project's overlap changes what its tasks want, and reopens them for the queue."""

from apps.tasks.models import Task

from .queue_support import annotators, make_project, next_task, submit, task_ids, work


def test_raising_overlap_asks_every_task_for_more_and_lowering_it_completes_them(tenant, as_role):
    manager = as_role("manager")
    project = make_project(manager, tasks=3, settings={"overlap": 1})
    (_, alice), (_, bob) = annotators(tenant, 2)
    assert len(work(alice, project)) == 3
    assert next_task(bob, project).status_code == 204
    assert manager.patch(f"/api/v1/projects/{project['id']}", {"settings": {"overlap": 2}},
                         format="json").status_code == 200
    assert set(Task.objects.filter(project_id=project["id"]).values_list("target_annotations", "status")) == {
        (2, "in_progress")}
    assert next_task(alice, project).status_code == 204  # she did them all
    lease = next_task(bob, project).json()
    assert submit(bob, lease).status_code == 201
    manager.patch(f"/api/v1/projects/{project['id']}", {"settings": {"overlap": 1}}, format="json")
    assert set(Task.objects.filter(project_id=project["id"]).values_list("status", flat=True)) == {"accepted"}
    assert next_task(bob, project).status_code == 204
    assert task_ids(project)
