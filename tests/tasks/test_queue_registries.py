"""The `tasks.eligibility` and `tasks.sources` registries that qa and workforce fill later."""

from datetime import UTC, datetime

import pytest
from django.db.models import Q

from apps.tasks import eligibility, sources
from apps.tasks.models import Assignment, Task

from .queue_support import annotators, make_project, next_task, submit, task_ids


class Suspends:
    name = "test-suspension"

    def __init__(self, user_id):
        self.user_id = user_id

    def refusal(self, *, project, user):
        if user.pk == self.user_id:
            return eligibility.Refusal(code="suspended", message="suspended for low accuracy", reason="accuracy",
                                       until=datetime(2030, 1, 1, tzinfo=UTC))
        return None

    def task_filter(self, *, project, user):
        return None


class GermanOnly:
    name = "test-language"

    def refusal(self, *, project, user):
        return None

    def task_filter(self, *, project, user):
        return Q(meta__lang="de")


class OffersGold:
    name = "test-gold"

    def __init__(self, task_id):
        self.task_id = task_id

    def offer(self, *, project, user, now):
        if Assignment.objects.filter(task_id=self.task_id, annotator=user).exists():
            return None
        return sources.Offer(task_id=self.task_id, kind=Assignment.Kind.GOLD)


def test_a_refusal_is_403_suspended_with_until_and_reason(tenant, as_role, monkeypatch):
    project = make_project(as_role("manager"), tasks=2)
    (member, client), (_, other) = annotators(tenant, 2)
    monkeypatch.setattr(eligibility, "_rules", [Suspends(member.user_id)])
    response = next_task(client, project)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "suspended" and error["details"]["reason"] == "accuracy"
    assert error["details"]["until"].startswith("2030-01-01")
    assert next_task(other, project).status_code == 200


def test_a_task_filter_limits_what_is_leased(tenant, as_role, monkeypatch):
    project = make_project(as_role("manager"), tasks=4)
    ids = task_ids(project)
    Task.objects.filter(pk__in=ids[2:]).update(meta={"lang": "de"})
    monkeypatch.setattr(eligibility, "_rules", [GermanOnly()])
    (_, client), = annotators(tenant, 1)
    served = []
    while (response := next_task(client, project)).status_code == 200:
        served.append(response.json()["task"]["id"])
        submit(client, response.json())
    assert served == ids[2:]


def test_a_source_serves_its_task_first_outside_the_target(tenant, as_role, monkeypatch):
    project = make_project(as_role("manager"), tasks=2)
    ids = task_ids(project)
    gold = Task.objects.get(pk=ids[1])
    Task.objects.filter(pk=gold.pk).update(is_gold=True, gold_result=[])
    monkeypatch.setattr(sources, "_sources", [OffersGold(gold.pk)])
    (_, client), = annotators(tenant, 1)
    first = next_task(client, project).json()
    assert first["task"]["id"] == gold.pk
    assert "gold" not in str(first)  # an annotator cannot tell a gold task from another
    assert Task.objects.get(pk=gold.pk).in_flight == 0
    assert submit(client, first).status_code == 201
    gold.refresh_from_db()
    assert gold.annotations_count == 0 and gold.in_flight == 0  # outside the task's target
    assert next_task(client, project).json()["task"]["id"] == ids[0]


@pytest.mark.parametrize("tasks", [3, 400])
def test_next_and_submit_query_counts_do_not_grow_with_the_project(tenant, as_role, tasks, django_assert_num_queries):
    project = make_project(as_role("manager"), tasks=tasks, settings={"overlap": 2})
    client = as_role("annotator")
    submit(client, next_task(client, project).json())  # warm the cursor row
    with django_assert_num_queries(QUERIES["next"]):
        lease = next_task(client, project).json()
    with django_assert_num_queries(QUERIES["submit"]):
        assert submit(client, lease).status_code == 201


QUERIES = {"next": 8, "submit": 7}
