"""Prompt import: the service, the lead's page and the management command."""

import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db.models import F
from django.urls import reverse

from labeling.judging.models import Item, ItemCandidate
from labeling.projects.importing import ImportFileError, import_prompts
from labeling.projects.models import Candidate, ImportBatch, Membership, Prompt
from labeling.projects.services import add_member, create_project
from tests.factories import make_item, make_user

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def jsonl(*records: dict | str) -> bytes:
    """One line per record; strings are written as they are (for broken lines)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return ("\n".join(lines) + "\n").encode()


def good_record(n: int, **extra) -> dict:
    return {
        "external_id": f"ext-{n}",
        "prompt": f"Question number {n}?",
        "responses": [
            {"text": f"First answer to {n}.", "model": "model-a"},
            {"text": f"Second answer to {n}.", "model": "model-b"},
        ],
        **extra,
    }


def run_import(project, data: bytes, filename: str = "prompts.jsonl", by=None) -> ImportBatch:
    return import_prompts(project=project, fileobj=io.BytesIO(data), filename=filename, by=by)


def row_counts() -> tuple[int, int, int, int]:
    return (
        Prompt.objects.count(),
        Candidate.objects.count(),
        Item.objects.count(),
        ItemCandidate.objects.count(),
    )


def rejected(project, data: bytes, filename: str = "prompts.jsonl") -> list:
    """Import a bad file; assert nothing at all was written; return the errors."""
    before = row_counts()
    batches_before = ImportBatch.objects.count()
    with pytest.raises(ImportFileError) as exc_info:
        run_import(project, data, filename)
    assert row_counts() == before
    assert ImportBatch.objects.count() == batches_before
    return exc_info.value.errors


def has_error(errors: list, line: int | None, field: str | None) -> bool:
    return any(e.line == line and e.field == field for e in errors)


# Good files


def test_a_good_jsonl_file_creates_prompts_candidates_and_items_with_slots_in_file_order(
    project, lead
):
    data = jsonl(good_record(1), good_record(2), good_record(3))

    batch = run_import(project, data, by=lead)

    assert (batch.prompts_created, batch.candidates_created, batch.items_created) == (3, 6, 3)
    assert batch.skipped == 0
    assert batch.created_by == lead
    assert batch.filename == "prompts.jsonl"
    assert row_counts() == (3, 6, 3, 6)
    prompt = Prompt.objects.get(project=project, external_id="ext-2")
    assert prompt.messages == [{"role": "user", "content": "Question number 2?"}]
    assert prompt.batch == batch
    assert prompt.consent == Prompt.Consent.UNKNOWN
    item = Item.objects.get(prompt=prompt)
    assert item.project == project
    slots = list(item.slots.select_related("candidate").order_by("slot"))
    assert [(s.slot, s.candidate.text, s.candidate.model_name) for s in slots] == [
        (0, "First answer to 2.", "model-a"),
        (1, "Second answer to 2.", "model-b"),
    ]
    assert all(s.candidate.prompt == prompt for s in slots)


def test_string_responses_metadata_and_consent_are_stored(project):
    record = {
        "prompt": "Hello?",
        "responses": ["Hi.", {"text": "Hello!", "metadata": {"temperature": 0.7}}],
        "metadata": {"source_user_id": "u-1"},
        "consent": "granted",
    }

    run_import(project, jsonl(record))

    prompt = Prompt.objects.get(project=project)
    assert prompt.external_id is None
    assert prompt.metadata == {"source_user_id": "u-1"}
    assert prompt.consent == "granted"
    texts = [s.candidate for s in Item.objects.get(prompt=prompt).slots.order_by("slot")]
    assert [(c.text, c.model_name, c.metadata) for c in texts] == [
        ("Hi.", "", {}),
        ("Hello!", "", {"temperature": 0.7}),
    ]


def test_a_multi_turn_prompt_with_a_system_message_is_stored_as_given(project):
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
    ]

    run_import(project, jsonl({"prompt": conversation, "external_id": "multi"}))

    assert Prompt.objects.get(external_id="multi").messages == conversation


def test_prompts_without_responses_create_only_prompt_rows(project):
    data = jsonl({"prompt": "Waiting for generation"}, {"prompt": "Me too", "responses": []})

    batch = run_import(project, data)

    assert (batch.prompts_created, batch.candidates_created, batch.items_created) == (2, 0, 0)
    assert row_counts() == (2, 0, 0, 0)


def test_a_ranking_project_takes_four_responses(ranking_project):
    record = {"prompt": "Rank us", "responses": ["one", "two", "three", "four"]}

    batch = run_import(ranking_project, jsonl(record))

    assert (batch.prompts_created, batch.candidates_created, batch.items_created) == (1, 4, 1)
    item = Item.objects.get(project=ranking_project)
    assert [s.candidate.text for s in item.slots.order_by("slot")] == [
        "one",
        "two",
        "three",
        "four",
    ]


def test_blank_lines_in_a_jsonl_file_are_ignored(project):
    data = b"\n" + jsonl(good_record(1)) + b"\n   \n" + jsonl(good_record(2))

    assert run_import(project, data).prompts_created == 2


def test_a_good_csv_file_imports_prompts_messages_responses_and_metadata(project):
    data = (
        "external_id,prompt,messages,response_1,model_1,response_2,model_2,consent,metadata\n"
        'c-1,What is 2+2?,,"4, of course.",m-a,Five — no.,m-b,granted,"{""k"": 1}"\n'
        'c-2,,"[{""role"": ""system"", ""content"": ""Be kind.""}, '
        '{""role"": ""user"", ""content"": ""Hi""}]",,,,,,\n'
        ",Just a prompt,,,,,,,\n"
    ).encode()

    batch = run_import(project, data, "prompts.csv")

    assert (batch.prompts_created, batch.candidates_created, batch.items_created) == (3, 2, 1)
    first = Prompt.objects.get(external_id="c-1")
    assert first.messages == [{"role": "user", "content": "What is 2+2?"}]
    assert first.consent == "granted"
    assert first.metadata == {"k": 1}
    slots = Item.objects.get(prompt=first).slots.order_by("slot")
    assert [(s.candidate.text, s.candidate.model_name) for s in slots] == [
        ("4, of course.", "m-a"),
        ("Five — no.", "m-b"),
    ]
    assert Prompt.objects.get(external_id="c-2").messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
    ]
    assert Prompt.objects.get(external_id=None).consent == Prompt.Consent.UNKNOWN


def test_the_documented_example_files_import_cleanly(project):
    jsonl_batch = run_import(project, (EXAMPLES / "prompts.jsonl").read_bytes())
    csv_batch = run_import(project, (EXAMPLES / "prompts.csv").read_bytes(), "prompts.csv")

    assert (jsonl_batch.prompts_created, jsonl_batch.items_created) == (5, 2)
    assert (csv_batch.prompts_created, csv_batch.items_created) == (4, 2)


def test_reimporting_skips_prompts_whose_external_id_is_already_in_the_project(project):
    run_import(project, jsonl(good_record(1), good_record(2)))

    batch = run_import(
        project, jsonl(good_record(1), good_record(2), good_record(3), {"prompt": "x"})
    )

    assert batch.skipped == 2
    assert (batch.prompts_created, batch.candidates_created, batch.items_created) == (2, 2, 1)
    assert Prompt.objects.filter(project=project).count() == 4


def test_an_external_id_used_in_another_project_is_not_skipped(project, ranking_project):
    run_import(ranking_project, jsonl({"prompt": "p", "external_id": "shared"}))

    batch = run_import(project, jsonl({"prompt": "p", "external_id": "shared"}))

    assert (batch.prompts_created, batch.skipped) == (1, 0)


@pytest.mark.slow
def test_ten_thousand_records_import_in_one_call(project):
    data = jsonl(*(good_record(n) for n in range(10_000)))

    batch = run_import(project, data)

    assert (batch.prompts_created, batch.candidates_created, batch.items_created) == (
        10_000,
        20_000,
        10_000,
    )
    assert row_counts() == (10_000, 20_000, 10_000, 20_000)
    slots = ItemCandidate.objects.all()
    assert slots.exclude(candidate__prompt_id=F("item__prompt_id")).count() == 0
    assert slots.filter(slot=0, candidate__text__startswith="First answer").count() == 10_000


# Bad JSONL files: the error names the line and the field, and nothing is written


def test_broken_json_names_the_line(project):
    data = jsonl(good_record(1), '{"prompt": "unterminated', good_record(3))

    errors = rejected(project, data)

    assert has_error(errors, 2, None)
    assert "broken JSON" in str(errors[0])


def test_a_json_list_instead_of_jsonl_gets_one_clear_error(project):
    data = json.dumps([good_record(1), good_record(2)], indent=2).encode()

    errors = rejected(project, data, "prompts.json")

    assert [(e.line, e.field) for e in errors] == [(1, None)]
    assert "one JSON object on each line" in errors[0].message


def test_a_missing_prompt_is_an_error(project):
    errors = rejected(project, jsonl(good_record(1), {"external_id": "no-prompt"}))

    assert has_error(errors, 2, "prompt")


def test_one_response_is_an_error(ranking_project):
    errors = rejected(ranking_project, jsonl({"prompt": "p", "responses": ["only one"]}))

    assert has_error(errors, 1, "responses")


def test_ten_responses_is_an_error(ranking_project):
    record = {"prompt": "p", "responses": [f"r{n}" for n in range(10)]}

    errors = rejected(ranking_project, jsonl(record))

    assert has_error(errors, 1, "responses")
    assert "got 10" in str(errors[0])


def test_three_responses_in_a_pairwise_project_is_an_error(project):
    errors = rejected(project, jsonl({"prompt": "p", "responses": ["a", "b", "c"]}))

    assert str(errors[0]) == (
        "line 1, field 'responses': expected 2 responses in a pairwise project, got 3"
    )


def test_a_prompt_that_is_a_number_is_an_error(project):
    errors = rejected(project, jsonl(good_record(1), {"prompt": 42}))

    assert has_error(errors, 2, "prompt")
    assert "got a number" in str(errors[0])


def test_responses_that_are_not_a_list_are_an_error(project):
    errors = rejected(project, jsonl({"prompt": "p", "responses": "a and b"}))

    assert has_error(errors, 1, "responses")


def test_metadata_that_is_not_an_object_is_an_error(project):
    errors = rejected(project, jsonl({"prompt": "p", "metadata": ["a", "b"]}))

    assert has_error(errors, 1, "metadata")


def test_a_response_object_without_text_names_the_response(project):
    errors = rejected(project, jsonl({"prompt": "p", "responses": ["a", {"model": "m"}]}))

    assert has_error(errors, 1, "responses[1].text")


def test_the_same_external_id_twice_in_a_file_names_both_lines(project):
    data = jsonl(good_record(1), good_record(2), good_record(1))

    errors = rejected(project, data)

    assert has_error(errors, 3, "external_id")
    assert "line 1" in errors[0].message


def test_an_unknown_field_is_named(project):
    errors = rejected(project, jsonl({"prompt": "p", "answer": "x"}))

    assert has_error(errors, 1, "answer")


def test_a_conversation_ending_in_an_assistant_turn_is_an_error(project):
    conversation = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]

    errors = rejected(project, jsonl({"prompt": conversation}))

    assert has_error(errors, 1, "prompt")
    assert "user turn" in str(errors[0])


def test_a_message_with_an_unknown_role_names_the_message(project):
    errors = rejected(project, jsonl({"prompt": [{"role": "bot", "content": "Hi"}]}))

    assert has_error(errors, 1, "prompt[0].role")


def test_a_bad_consent_value_is_an_error(project):
    errors = rejected(project, jsonl({"prompt": "p", "consent": "yes"}))

    assert has_error(errors, 1, "consent")


def test_a_bad_last_line_after_many_good_ones_writes_nothing(project):
    data = jsonl(*(good_record(n) for n in range(500)), {"prompt": "p", "responses": ["a"]})

    errors = rejected(project, data)

    assert [(e.line, e.field) for e in errors] == [(501, "responses")]


def test_errors_stop_after_twenty(project):
    errors = rejected(project, jsonl(*({"prompt": 1} for _ in range(50))))

    assert len(errors) == 21
    assert errors[-1].line is None
    assert "stopped" in errors[-1].message


def test_a_nul_character_which_postgresql_cannot_store_is_an_error(project):
    errors = rejected(project, jsonl(good_record(1), {"prompt": "a\u0000b"}))

    assert has_error(errors, 2, None)
    assert "NUL" in errors[0].message


def test_an_empty_file_is_rejected(project):
    errors = rejected(project, b"  \n\n")

    assert "empty" in str(errors[0])


def test_a_file_that_is_not_utf8_names_the_line(project):
    data = jsonl(good_record(1)) + '{"prompt": "café"}\n'.encode("latin-1")

    errors = rejected(project, data)

    assert has_error(errors, 2, None)
    assert "UTF-8" in str(errors[0])


def test_a_file_over_the_size_limit_is_rejected(project, settings):
    settings.IMPORT_MAX_BYTES = 100

    errors = rejected(project, jsonl(good_record(1), good_record(2)))

    assert "larger than the limit" in str(errors[0])


def test_an_unsupported_file_type_is_rejected(project):
    errors = rejected(project, jsonl(good_record(1)), "prompts.txt")

    assert "unsupported file type" in str(errors[0])


# Bad CSV files


def test_a_csv_with_an_unknown_column_names_the_column(project):
    data = b"prompt,answer\nHello,Hi\n"

    errors = rejected(project, data, "prompts.csv")

    assert has_error(errors, 1, "answer")


def test_a_csv_row_with_one_response_names_the_file_line(project):
    data = b'prompt,response_1,response_2\nGood,a,b\n"Two\nlines",a,b\nBad,only one,\n'

    errors = rejected(project, data, "prompts.csv")

    assert [(e.line, e.field) for e in errors] == [(5, "responses")]


def test_a_csv_row_with_both_prompt_and_messages_is_an_error(project):
    data = b'prompt,messages\nHi,"[{""role"": ""user"", ""content"": ""Hi""}]"\n'

    errors = rejected(project, data, "prompts.csv")

    assert has_error(errors, 2, "messages")


def test_a_csv_metadata_cell_with_broken_json_is_an_error(project):
    errors = rejected(project, b"prompt,metadata\nHi,{not json\n", "prompts.csv")

    assert has_error(errors, 2, "metadata")


# The lead's page


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


def upload(client, project, data: bytes, filename: str = "prompts.jsonl"):
    url = reverse("project_import", args=[project.slug])
    return client.post(url, {"file": SimpleUploadedFile(filename, data)})


def test_the_lead_sees_the_upload_form_and_the_format_summary(lead_client, project):
    response = lead_client.get(reverse("project_import", args=[project.slug]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file"' in html
    assert "docs/import-format.md" in html
    assert "style=" not in html
    assert "<script>" not in html


def test_a_lead_uploading_a_good_file_is_redirected_with_a_summary(lead_client, project, lead):
    make_item(project, external_id="ext-1")

    response = upload(lead_client, project, jsonl(good_record(1), good_record(2)))

    assert response.status_code == 303
    assert response["Location"] == reverse("project_import", args=[project.slug])
    page = lead_client.get(response["Location"]).content.decode()
    assert "Imported 1 prompt, 2 candidates, 1 item; 1 skipped" in page
    assert "prompts.jsonl" in page
    assert Prompt.objects.filter(project=project).count() == 2
    assert ImportBatch.objects.get(project=project).created_by == lead


def test_a_lead_uploading_a_bad_file_sees_the_errors_and_nothing_is_imported(lead_client, project):
    data = jsonl(good_record(1), good_record(2), {"prompt": "p", "responses": ["a", "b", "c"]})

    response = upload(lead_client, project, data)

    assert response.status_code == 400
    html = response.content.decode()
    assert "line 3" in html
    assert "<code>responses</code>" in html
    assert "expected 2 responses in a pairwise project, got 3" in html
    assert row_counts() == (0, 0, 0, 0)
    assert not ImportBatch.objects.exists()


def test_posting_without_a_file_is_a_400(lead_client, project):
    response = lead_client.post(reverse("project_import", args=[project.slug]), {})

    assert response.status_code == 400
    assert not ImportBatch.objects.exists()


def test_a_trainer_of_the_project_gets_404(client, project, trainer):
    client.force_login(trainer)
    url = reverse("project_import", args=[project.slug])

    assert client.get(url).status_code == 404
    assert upload(client, project, jsonl(good_record(1))).status_code == 404
    assert not Prompt.objects.exists()


def test_a_lead_of_another_project_gets_404(client, project):
    other_lead = make_user("other_lead")
    create_project(name="Elsewhere", created_by=other_lead)
    client.force_login(other_lead)

    assert client.get(reverse("project_import", args=[project.slug])).status_code == 404
    assert upload(client, project, jsonl(good_record(1))).status_code == 404
    assert not Prompt.objects.exists()


def test_a_researcher_promoted_to_lead_can_import(client, project, researcher):
    add_member(project=project, user=researcher, role=Membership.Role.LEAD)
    client.force_login(researcher)

    assert upload(client, project, jsonl(good_record(1))).status_code == 303


# The management command


def test_the_command_imports_a_file_and_prints_the_counts(project, lead, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(jsonl(good_record(1), {"prompt": "alone"}))
    out = io.StringIO()

    call_command("import_prompts", project.slug, str(path), "--as", lead.username, stdout=out)

    assert "Imported 2 prompts, 2 candidates, 1 item; 0 skipped" in out.getvalue()
    assert ImportBatch.objects.get(project=project).created_by == lead


def test_the_command_lists_every_error_and_imports_nothing(project, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(jsonl(good_record(1), {"prompt": 5}, {"prompt": "p", "colour": "red"}))

    with pytest.raises(CommandError) as exc_info:
        call_command("import_prompts", project.slug, str(path))

    message = str(exc_info.value)
    assert "line 2, field 'prompt'" in message
    assert "line 3, field 'colour'" in message
    assert row_counts() == (0, 0, 0, 0)


def test_the_command_rejects_an_unknown_project(db, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(jsonl(good_record(1)))

    with pytest.raises(CommandError, match="No project"):
        call_command("import_prompts", "no-such-project", str(path))
