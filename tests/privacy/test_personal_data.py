"""A lead redacts or removes text a trainer flagged as personal data; later exports lack it."""

import hashlib

import pytest
from django.test import Client
from django.urls import reverse

from labeling.core.models import AuditEvent
from labeling.datasets.models import Export
from labeling.privacy.models import DeletionRequest
from labeling.projects.models import Candidate, Prompt
from tests.datasets.helpers import answer, export_now, folder_of, judge
from tests.factories import PASSWORD, make_item

pytestmark = pytest.mark.django_db(transaction=True)

LEAKY = "Write to alice@example.com or visit 350 Fifth Avenue, New York, NY 10118 today."


def export_text(exports_dir, export) -> str:
    return "".join(
        (folder_of(exports_dir, export) / f["name"]).read_text()
        for f in export.files
        if f.get("split") is not None
    )


@pytest.fixture
def flagged(project, trainer):
    """A judged item whose first response a trainer flagged personal_data."""
    item = make_item(project, prompt="Call me on +1 415 555 0132", responses=(LEAKY, "No."))
    leaky = Candidate.objects.get(text=LEAKY)
    judge(
        project,
        trainer,
        lambda item: answer(project, winner=leaky.pk, flags={leaky.pk: ["personal_data"]}),
    )
    return item, leaky


def post(client, project, item, *, follow=False, **data):
    url = reverse("lead_item_personal_data", args=[project.slug, item.pk])
    return client.post(url, data, follow=follow)


def test_the_lead_sees_the_actions_only_on_flagged_text(client, project, lead, flagged):
    item, leaky = flagged
    client.login(username=lead.username, password=PASSWORD)
    html = client.get(reverse("lead_item", args=[project.slug, item.pk])).content.decode()
    assert html.count('data-testid="personal-data"') == 2  # the response and the prompt
    assert f'name="candidate" value="{leaky.pk}"' in html
    other = Candidate.objects.get(text="No.")
    assert f'name="candidate" value="{other.pk}"' not in html
    response = post(client, project, item, action="redact", candidate=other.pk, follow=True)
    assert "No trainer flagged this text as personal data." in response.content.decode()
    assert Candidate.objects.get(pk=other.pk).text == "No."


def test_redacting_a_flagged_response_keeps_only_a_hash_and_later_exports_lack_it(
    exports_dir, client, project, lead, researcher, flagged
):
    item, leaky = flagged
    earlier = export_now(project, researcher)
    assert "alice@example.com" in export_text(exports_dir, earlier)
    client.login(username=lead.username, password=PASSWORD)
    response = post(client, project, item, action="redact", candidate=leaky.pk)
    assert response.status_code == 302
    leaky.refresh_from_db()
    assert leaky.text == "Write to [EMAIL] or visit [ADDRESS] today."
    event = AuditEvent.objects.get(action="redaction")
    assert event.actor == lead and event.object_id == str(leaky.pk)
    assert event.details["original_sha256"] == hashlib.sha256(LEAKY.encode()).hexdigest()
    assert event.details["counts"] == {"email": 1, "address": 1}
    assert "alice" not in str(event.details) and "Fifth" not in str(event.details)
    assert Export.objects.get(pk=earlier.pk).withdrawn_at is not None
    later = export_text(exports_dir, export_now(project, researcher))
    assert "alice@example.com" not in later and "Fifth Avenue" not in later
    assert "[EMAIL]" in later


def test_redacting_the_prompt_of_a_flagged_response(client, project, lead, flagged):
    item, _ = flagged
    client.login(username=lead.username, password=PASSWORD)
    post(client, project, item, action="redact", candidate="")
    prompt = Prompt.objects.get(pk=item.prompt_id)
    assert prompt.messages[-1]["content"] == "Call me on [PHONE]"
    assert AuditEvent.objects.get(action="redaction").object_type == "prompt"


def test_removing_flagged_text_deletes_the_prompt_everywhere(
    exports_dir, client, project, lead, researcher, flagged
):
    item, leaky = flagged
    earlier = export_now(project, researcher)
    client.login(username=lead.username, password=PASSWORD)
    response = post(client, project, item, action="remove", candidate=leaky.pk)
    assert response.status_code == 302
    assert response["Location"] == reverse("lead_items", args=[project.slug])
    assert Prompt.objects.get(pk=item.prompt_id).deleted_at is not None
    request = DeletionRequest.objects.get(kind=DeletionRequest.Kind.FLAGGED)
    assert (request.prompts_matched, request.candidates_matched, request.exports_withdrawn) == (
        1,
        2,
        1,
    )
    assert request.match_digest != LEAKY and "alice" not in str(
        AuditEvent.objects.get(action="deletion").details
    )
    assert Export.objects.get(pk=earlier.pk).withdrawn_at is not None
    later = export_now(project, researcher)
    assert "alice@example.com" not in export_text(exports_dir, later)
    assert later.counts["excluded"].get("deleted") == 1
    assert client.get(reverse("lead_item", args=[project.slug, item.pk])).status_code == 404
    listing = client.get(reverse("lead_items", args=[project.slug])).content.decode()
    assert f"#{item.pk}<" not in listing


def test_only_a_lead_may_redact_and_only_with_a_csrf_token(
    project, lead, trainer, researcher, flagged
):
    item, leaky = flagged
    for user in (trainer, researcher):
        client = Client()
        client.login(username=user.username, password=PASSWORD)
        assert post(client, project, item, action="redact", candidate=leaky.pk).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.login(username=lead.username, password=PASSWORD)
    assert post(strict, project, item, action="remove", candidate=leaky.pk).status_code == 403
    assert Candidate.objects.get(pk=leaky.pk).text == LEAKY
    assert Prompt.objects.get(pk=item.prompt_id).deleted_at is None
