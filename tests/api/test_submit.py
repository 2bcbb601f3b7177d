"""Submitting through the API: idempotent retries, the web form's rules, conflicts."""

import pytest
from django.utils import timezone

from labeling.api.models import IdempotentRequest
from labeling.judging import services
from labeling.judging.models import Assignment, Judgment
from labeling.projects.models import Membership
from labeling.projects.services import add_member
from tests.factories import make_user

from .conftest import answer_for, client_for, judge


def _submit(client, assignment, body, **headers):
    return client.post(
        f"/api/v1/assignments/{assignment.code}/submit/", body, format="json", **headers
    )


def test_a_retried_submit_with_the_same_key_gives_one_judgment_and_the_same_answer(world):
    client = client_for(world.users["trainer"])
    body = answer_for(world.lease)
    first = _submit(client, world.lease, body, HTTP_IDEMPOTENCY_KEY="k-123")
    retry = _submit(client, world.lease, body, HTTP_IDEMPOTENCY_KEY="k-123")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Judgment.objects.filter(assignment=world.lease).count() == 1
    world.lease.refresh_from_db()
    assert world.lease.status == Assignment.Status.SUBMITTED


def test_a_client_key_in_the_body_works_like_the_header(world):
    client = client_for(world.users["trainer"])
    body = {**answer_for(world.lease), "client_key": "body-key"}
    first = _submit(client, world.lease, body)
    retry = _submit(client, world.lease, body)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert IdempotentRequest.objects.filter(key="body-key").count() == 1


def test_a_retry_without_a_key_returns_the_stored_judgment(world):
    client = client_for(world.users["trainer"])
    first = _submit(client, world.lease, answer_for(world.lease))
    again = _submit(client, world.lease, answer_for(world.lease))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Judgment.objects.filter(assignment=world.lease).count() == 1


def test_a_key_reused_for_another_assignment_is_a_conflict(world):
    client = client_for(world.users["trainer"])
    assert (
        _submit(client, world.lease, answer_for(world.lease), HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    nxt = client.post(f"/api/v1/projects/{world.a.slug}/assignments/next/").json()["assignment"]
    other = Assignment.objects.get(code=nxt["code"])
    response = _submit(client, other, answer_for(other), HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Judgment.objects.filter(assignment=other).exists()


def test_the_web_forms_rules_apply_with_field_paths_in_the_api(world):
    client = client_for(world.users["trainer"])
    cid = str(world.lease.display_order[1])
    body = answer_for(world.lease)
    del body["scores"][cid]["truthfulness"]
    body["flags"] = {cid: ["hate"]}
    body["rationale"] = ""
    response = _submit(client, world.lease, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[f"scores.{cid}.truthfulness"] == ["Score truthfulness for every response."]
    assert "rationale" not in errors  # the form checks the rationale once the fields are valid
    body = answer_for(world.lease)
    body["flags"] = {cid: ["hate"]}
    body["rationale"] = ""
    response = _submit(client, world.lease, body)
    assert response.json()["errors"] == {
        "rationale": ["Write a short rationale (required: a harm flag is ticked)."]
    }
    assert not Judgment.objects.filter(assignment=world.lease).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"preferred": 999999}, "preferred"),
        ({"strength": None, "preferred": None}, "preferred"),
        ({"scores": {"999999": {"helpfulness": 3}}}, "scores.999999"),
        ({"flags": {"0": ["hate"]}}, "flags.0"),
        ({"ranks": {"1": 1}}, "ranks"),
    ],
)
def test_it_rejects_answers_about_candidates_not_on_screen(world, change, field):
    body = {k: v for k, v in {**answer_for(world.lease), **change}.items() if v is not None}
    response = _submit(client_for(world.users["trainer"]), world.lease, body)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_submitting_a_skipped_assignment_is_a_conflict(world):
    client = client_for(world.users["trainer"])
    skip = client.post(
        f"/api/v1/assignments/{world.lease.code}/skip/", {"reason": "broken"}, format="json"
    )
    assert skip.status_code == 200
    response = _submit(client, world.lease, answer_for(world.lease))
    assert response.status_code == 409
    assert response.json() == {"detail": "You skipped this item.", "code": "assignment_closed"}


def test_a_late_submit_on_a_completed_item_is_a_conflict_and_is_kept(world):
    Assignment.objects.filter(pk=world.lease.pk).update(lease_expires_at=world.lease.created_at)
    assert services.expire_leases() == 1
    other = make_user("otto_trainer", adult_confirmed_at=timezone.now())
    add_member(project=world.a, user=other, role=Membership.Role.TRAINER)
    Membership.objects.filter(user=other).update(notice_accepted_at=timezone.now())
    taken = services.claim_next(trainer=other, project=world.a)
    assert taken.item == world.lease.item, "the swept item is the oldest open one"
    judge(other, taken)

    client = client_for(world.users["trainer"])
    body = answer_for(world.lease)
    response = _submit(client, world.lease, body, HTTP_IDEMPOTENCY_KEY="late-1")
    assert response.status_code == 409
    data = response.json()
    assert data["code"] == "late_judgment" and "late judgment" in data["detail"]
    assert data["judgment"]["counts"] is False
    retry = _submit(client, world.lease, body, HTTP_IDEMPOTENCY_KEY="late-1")
    assert (retry.status_code, retry.json()) == (409, data)
    assert Judgment.objects.filter(assignment=world.lease, counts=False).count() == 1


def test_next_returns_the_open_lease_then_nothing_when_the_queue_is_empty(world):
    client = client_for(world.users["trainer"])
    url = f"/api/v1/projects/{world.a.slug}/assignments/next/"
    first = client.post(url).json()
    assert first["assignment"]["code"] == str(world.lease.code)
    assert [c["label"] for c in first["assignment"]["candidates"]] == ["A", "B"]
    for _ in range(2):
        data = client.post(url).json()
        code = data["assignment"]["code"]
        a = Assignment.objects.get(code=code)
        assert _submit(client, a, answer_for(a)).status_code == 201
    done = client.post(url).json()
    assert done["assignment"] is None
    assert done["today"] == 3


def test_next_work_waits_for_the_age_and_notice_confirmation(world):
    trainer = world.users["trainer"]
    Membership.objects.filter(user=trainer).update(notice_accepted_at=None)
    response = client_for(trainer).post(f"/api/v1/projects/{world.a.slug}/assignments/next/")
    assert response.status_code == 409
    assert response.json()["code"] == "notice_required"
