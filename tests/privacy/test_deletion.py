"""Deletion requests, trainer erasure, retention purge and opt-out, seen through exports."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeling.accounts.models import Session
from labeling.core.models import AuditEvent
from labeling.datasets.models import Export
from labeling.datasets.options import FORMATS
from labeling.judging import services as judging
from labeling.judging.models import Item, Judgment, TrainerDay
from labeling.privacy import services
from labeling.privacy.models import DeletionRequest
from labeling.projects.models import Candidate, Prompt
from tests.datasets.helpers import answer, export_now, folder_of, judge
from tests.factories import PASSWORD, make_item

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "my neighbour Alice Example lives at 12 Elm Road"


def every_export_text(exports_dir, project, researcher) -> str:
    """All data files of one export per format and file type, concatenated."""
    texts = []
    for fmt, (_, file_types, _) in FORMATS.items():
        for file_type in file_types:
            export = export_now(project, researcher, format=fmt, file_type=file_type)
            for f in export.files:
                if f.get("split") is not None:
                    texts.append(
                        (folder_of(exports_dir, export) / f["name"]).read_bytes().decode("latin-1")
                    )
    return "\n".join(texts)


@pytest.fixture
def judged(project, trainer):
    """Three judged items; the second prompt came from source user u-7 and holds SECRET."""
    items = [
        make_item(project, prompt="How tall is Everest?"),
        make_item(project, prompt=f"Tell me about {SECRET}", responses=("Sure.", "No.")),
        make_item(project, prompt="What is 2+2?"),
    ]
    Prompt.objects.filter(pk=items[1].prompt_id).update(metadata={"source_user_id": "u-7"})
    for _ in items:
        judge(project, trainer, lambda item: answer(project, winner=item.candidates.first().pk))
    return items


def test_a_deletion_by_source_user_leaves_every_later_export_and_withdraws_earlier_ones(
    exports_dir, project, lead, researcher, judged, client
):
    earlier = export_now(project, researcher)
    assert SECRET in (folder_of(exports_dir, earlier) / "data/train.jsonl").read_text() + (
        (folder_of(exports_dir, earlier) / "data/test.jsonl").read_text()
        if (folder_of(exports_dir, earlier) / "data/test.jsonl").exists()
        else ""
    )
    request = services.request_deletion(project=project, by=lead, source_user_id="u-7")
    assert (request.prompts_matched, request.candidates_matched, request.judgments_matched) == (
        1,
        2,
        1,
    )
    assert request.exports_withdrawn == 1
    assert SECRET not in str(DeletionRequest.objects.values_list().get(pk=request.pk))

    text = every_export_text(exports_dir, project, researcher)
    assert "Alice Example" not in text
    assert f'"group_id":{judged[1].pk},' not in text.replace(" ", "")
    later = Export.objects.filter(withdrawn_at__isnull=True).last()
    assert later.counts["excluded"].get("deleted") == 1

    client.login(username=researcher.username, password=PASSWORD)
    archive = reverse("export_archive", args=[project.slug, earlier.version])
    assert client.get(archive).status_code == 410
    api = client.get(f"/api/v1/projects/{project.slug}/exports/{earlier.version}/archive/")
    assert (api.status_code, api.json()["code"]) == (409, "export_withdrawn"), "both doors refuse"
    assert not AuditEvent.objects.filter(action="export_download").exists()
    event = AuditEvent.objects.get(action="deletion")
    assert event.details["prompts"] == 1 and SECRET not in str(event.details)


def test_a_deletion_by_text_matches_case_and_space_insensitively(project, lead, judged):
    request = services.request_deletion(project=project, by=lead, text="ALICE   example lives")
    assert request.prompts_matched == 1
    assert Prompt.objects.get(pk=judged[1].prompt_id).deleted_at is not None


def test_deleted_prompts_leave_the_queues(project, lead, other_trainer):
    item = make_item(project, prompt=f"Tell me about {SECRET}")
    held = judging.claim_next(trainer=other_trainer, project=project)
    services.request_deletion(project=project, by=lead, text="alice example")
    held.refresh_from_db()
    assert held.status == "released"
    Item.objects.filter(pk=item.pk).update(open_slots=1)
    assert judging.claim_next(trainer=other_trainer, project=project) is None


def test_a_trainer_erasure_keeps_judgments_under_the_deleted_pseudonym(
    exports_dir, project, trainer, researcher, client
):
    other_device = Client()
    other_device.login(username=trainer.username, password=PASSWORD)
    make_item(project)
    judge(
        project,
        trainer,
        lambda item: answer(project, winner=item.candidates.first().pk, rationale="I, Bob, think"),
    )
    client.login(username=trainer.username, password=PASSWORD)
    assert client.post(reverse("erase_me"), {"confirm": "erase"}).status_code == 200
    trainer.refresh_from_db()
    assert not trainer.is_active and trainer.username.startswith("deleted-")
    assert not Session.objects.filter(user=trainer).exists()  # logged out on every device
    assert Judgment.objects.get().rationale == ""
    raw = export_now(project, researcher, format="raw")
    text = "".join(
        (folder_of(exports_dir, raw) / f["name"]).read_text()
        for f in raw.files
        if f.get("split") is not None
    )
    assert '"trainer":"deleted"' in text.replace(" ", "")
    assert "Bob" not in text


def test_the_retention_purge_removes_rows_after_the_window_only(
    exports_dir, project, lead, researcher, judged
):
    earlier = export_now(project, researcher)
    services.request_deletion(project=project, by=lead, source_user_id="u-7")
    now = timezone.now()
    kept = services.purge_deleted(now=now + timedelta(days=29))
    assert kept["prompts"] == 0
    assert Prompt.objects.filter(pk=judged[1].prompt_id).exists()
    gone = services.purge_deleted(now=now + timedelta(days=31))
    assert gone["prompts"] == 1
    assert not Prompt.objects.filter(pk=judged[1].prompt_id).exists()
    assert not Candidate.objects.filter(prompt_id=judged[1].prompt_id).exists()
    assert Judgment.objects.count() == 2
    # The dashboard stops counting the purged judgment too.
    assert sum(TrainerDay.objects.filter(project=project).values_list("judgments", flat=True)) == 2
    assert not (folder_of(exports_dir, earlier) / "data").exists() or not any(
        (folder_of(exports_dir, earlier) / "data").iterdir()
    )
    assert AuditEvent.objects.filter(action="purge").count() == 2


def test_opted_out_prompts_are_absent_from_every_format(exports_dir, project, researcher, trainer):
    make_item(project, prompt="public question")
    opted = make_item(project, prompt="OPTED-OUT question", responses=("OPTED a", "OPTED b"))
    Prompt.objects.filter(pk=opted.prompt_id).update(consent="opted_out")
    for _ in range(2):
        judge(project, trainer, lambda item: answer(project, winner=item.candidates.first().pk))
    text = every_export_text(exports_dir, project, researcher)
    assert "public question" in text
    assert "OPTED" not in text
    assert Export.objects.last().counts["opted_out_prompts"] == 1


def test_redaction_counts_reach_the_manifest_and_the_card(
    exports_dir, project, researcher, trainer
):
    make_item(
        project,
        prompt="Mail me at jo@example.com or call +1 415 555 2671",
        responses=("Sure, jo@example.com noted.", "No."),
    )
    judge(project, trainer, lambda item: answer(project, winner=item.candidates.first().pk))
    export = export_now(project, researcher, redact_pii=True)
    assert export.counts["redactions"] == {"email": 2, "phone": 1}
    folder = folder_of(exports_dir, export)
    data = "".join(p.read_text() for p in (folder / "data").iterdir())
    assert "jo@example.com" not in data and "[EMAIL]" in data and "[PHONE]" in data
    assert "2 email" in (folder / "README.md").read_text()


def test_a_lead_records_a_request_in_the_page_and_others_get_404(
    project, lead, trainer, researcher, judged, client
):
    url = reverse("project_privacy", args=[project.slug])
    for user in (trainer, researcher):
        client.login(username=user.username, password=PASSWORD)
        assert client.get(url).status_code == 404
        assert client.post(url, {"source_user_id": "u-7"}).status_code == 404
    assert not DeletionRequest.objects.exists()
    client.login(username=lead.username, password=PASSWORD)
    assert client.post(url, {"source_user_id": "u-7", "text": "x"}).status_code == 400
    response = client.post(url, {"source_user_id": "u-7"}, follow=True)
    html = response.content.decode()
    assert "Deleted 1 prompts" in html
    assert SECRET not in html
