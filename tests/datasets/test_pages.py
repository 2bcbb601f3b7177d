"""The export pages through the test client: who may see them, the form, list, downloads."""

import io
import tarfile

import pytest
from django.urls import reverse

from labeling.datasets.models import Export
from labeling.projects.models import Membership
from labeling.projects.services import add_member, create_project
from tests.factories import make_item, make_user

from .helpers import answer, export_now, judge


@pytest.fixture
def judged(project, trainer):
    item = make_item(project)
    blue, _ = item.slots.order_by("slot").values_list("candidate_id", flat=True)
    judge(project, trainer, lambda it: answer(project, winner=blue, strength=2))
    return item


def urls(slug: str, version: int = 1) -> list[str]:
    return [
        reverse("export_list", args=[slug]),
        reverse("export_new", args=[slug]),
        reverse("export_compare", args=[slug]),
        reverse("export_detail", args=[slug, version]),
        reverse("export_archive", args=[slug, version]),
        reverse("export_download", args=[slug, version, "data/train.jsonl"]),
    ]


@pytest.mark.django_db
def test_a_trainer_gets_404_on_every_export_page(client, project, trainer):
    client.force_login(trainer)
    for url in urls(project.slug):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("export_new", args=[project.slug]), {}).status_code == 404


@pytest.mark.django_db
def test_a_researcher_of_another_project_gets_404(client, project):
    other = make_user("other_researcher")
    elsewhere = create_project(name="Elsewhere", created_by=make_user("other_lead"))
    add_member(project=elsewhere, user=other, role=Membership.Role.RESEARCHER)
    client.force_login(other)
    for url in urls(project.slug):
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("export_list", args=[elsewhere.slug])).status_code == 200


@pytest.mark.django_db
def test_the_overview_links_exports_for_researchers_and_leads_only(
    client, project, researcher, lead, trainer
):
    url = reverse("project_overview", args=[project.slug])
    exports = reverse("export_list", args=[project.slug])
    for user, shown in ((researcher, True), (lead, True), (trainer, False)):
        client.force_login(user)
        assert (exports in client.get(url).content.decode()) is shown, user


@pytest.mark.django_db
def test_a_researcher_starts_an_export_and_its_job_is_queued_after_commit(
    client, project, researcher, django_capture_on_commit_callbacks
):
    client.force_login(researcher)
    page = client.get(reverse("export_new", args=[project.slug]))
    assert page.status_code == 200
    assert "TRL preference, explicit prompt" in page.content.decode()
    data = {
        "format": "trl_implicit", "file_type": "parquet", "preference": "helpfulness",
        "combine_primary": "harmlessness", "combine_threshold": "2",
        "combine_fallback": "helpfulness", "expansion": "all_pairs", "aggregate": "none",
        "ties": "drop", "both_bad": "keep", "margins": "0:0,1:1,2:2,3:3",
        "kto_dimension": "mean", "kto_threshold": "5", "min_judgments": "1",
        "min_agreement": "0", "exclude_flagged": "harm", "test_ratio": "0.2", "seed": "7",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("export_new", args=[project.slug]), data)
    assert response.status_code == 303
    export = Export.objects.get(project=project)
    assert response["Location"] == reverse("export_detail", args=[project.slug, 1])
    assert len(callbacks) == 1
    assert export.status == Export.Status.QUEUED and export.created_by == researcher
    assert export.options["preference"] == "helpfulness"
    assert export.options["margins"] == {"0": 0.0, "1": 1.0, "2": 2.0, "3": 3.0}
    assert export.options["exclude_flagged"] == "harm" and export.options["seed"] == 7


@pytest.mark.django_db
def test_the_form_refuses_ties_in_a_format_that_cannot_hold_them(client, project, researcher):
    client.force_login(researcher)
    data = {
        "format": "openai", "file_type": "jsonl", "preference": "overall",
        "combine_primary": "harmlessness", "combine_threshold": "2",
        "combine_fallback": "helpfulness", "expansion": "all_pairs", "aggregate": "majority",
        "ties": "keep", "both_bad": "drop", "margins": "0:0,1:1,2:2,3:3",
        "kto_dimension": "mean", "kto_threshold": "5", "min_judgments": "1",
        "min_agreement": "0", "exclude_flagged": "none", "test_ratio": "0.1", "seed": "0",
    }  # fmt: skip
    response = client.post(reverse("export_new", args=[project.slug]), data)
    assert response.status_code == 400
    assert "ties must be dropped" in response.content.decode()
    assert not Export.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_list_shows_a_finished_export_with_counts_size_sha_author_and_links(
    client, project, researcher, judged, django_assert_max_num_queries
):
    export = export_now(project, researcher, format="trl_explicit", test_ratio=0)
    client.force_login(researcher)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("export_list", args=[project.slug])).content.decode()
    assert "v1" in page and "researcher" in page and export.fingerprint[:12] in page
    assert reverse("export_archive", args=[project.slug, 1]) in page
    assert "hx-get" not in page  # nothing in progress: no polling
    detail = client.get(reverse("export_detail", args=[project.slug, 1])).content.decode()
    for f in export.files:
        if f.get("kind") != "index":
            assert reverse("export_download", args=[project.slug, 1, f["name"]]) in detail
    assert export.files[0]["sha256"] in detail


@pytest.mark.django_db(transaction=True)
def test_a_file_downloads_as_an_attachment_with_its_length(client, project, researcher, judged):
    export = export_now(project, researcher, format="trl_explicit", test_ratio=0)
    client.force_login(researcher)
    response = client.get(reverse("export_download", args=[project.slug, 1, "data/train.jsonl"]))
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert int(response["Content-Length"]) == len(body) == export.files[0]["bytes"]
    assert (
        'attachment; filename="helpful-assistant-v1-data-train.jsonl"'
        in (response["Content-Disposition"])
    )
    hidden = client.get(reverse("export_download", args=[project.slug, 1, ".row_keys.tsv"]))
    assert hidden.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_archive_is_a_tar_of_the_folder_with_fixed_times_and_exact_length(
    client, project, researcher, judged
):
    export_now(project, researcher, format="trl_explicit", test_ratio=0)
    client.force_login(researcher)
    response = client.get(reverse("export_archive", args=[project.slug, 1]))
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = tar.getnames()
        assert names == [
            "helpful-assistant-v1/README.md",
            "helpful-assistant-v1/manifest.json",
            "helpful-assistant-v1/data/train.jsonl",
        ]
        assert {m.mtime for m in tar.getmembers()} == {946_684_800}
        assert b"It is blue." in tar.extractfile("helpful-assistant-v1/data/train.jsonl").read()


@pytest.mark.django_db
def test_the_detail_page_polls_until_final_and_htmx_gets_the_fragment(client, project, researcher):
    export = Export.objects.create(
        project=project, version=1, format="trl_explicit", file_type="jsonl", options={},
        status=Export.Status.RUNNING, progress_done=5, progress_total=20, folder="x/v1",
    )  # fmt: skip
    client.force_login(researcher)
    url = reverse("export_detail", args=[project.slug, 1])
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section class="card export-status"')
    assert 'hx-trigger="load delay:1s"' in fragment and 'value="25"' in fragment
    export.status = Export.Status.FAILED
    export.error = "boom"
    export.save()
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in fragment and "boom" in fragment and "Run again" in fragment
