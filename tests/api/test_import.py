"""Importing through the API: the web import's checks, messages and atomicity."""

import io

import pytest

from labeling.projects.models import Prompt
from tests.factories import PASSWORD

from .conftest import client_for

BAD = (
    b'{"prompt": "ok", "responses": ["a", "b"]}\n'
    b'{"prompt": "", "responses": ["only one"]}\n'
    b"not json\n"
)


def _upload(content: bytes, name: str):
    f = io.BytesIO(content)
    f.name = name
    return f


def test_the_same_bad_file_gives_the_same_errors_through_the_api_and_the_web(world, client):
    lead = world.users["lead"]
    before = Prompt.objects.count()

    api = client_for(lead).post(
        f"/api/v1/projects/{world.a.slug}/prompts/import/",
        {"file": _upload(BAD, "bad.jsonl")},
        format="multipart",
    )
    assert api.status_code == 400
    body = api.json()
    assert body["code"] == "import_rejected"

    client.login(username=lead.username, password=PASSWORD)
    web = client.post(f"/p/{world.a.slug}/import/", {"file": _upload(BAD, "bad.jsonl")})
    assert web.status_code == 400
    web_errors = web.context["errors"]

    assert [(e["line"], e["field"], e["message"]) for e in body["errors"]] == [
        (e.line, e.field, e.message) for e in web_errors
    ]
    assert [e["text"] for e in body["errors"]] == [str(e) for e in web_errors]
    assert len(body["errors"]) >= 3
    assert Prompt.objects.count() == before  # nothing was written, by either door


@pytest.mark.parametrize("name", ["prompts.txt", "prompts"])
def test_an_unsupported_file_type_is_refused_like_on_the_web(world, name):
    response = client_for(world.users["lead"]).post(
        f"/api/v1/projects/{world.a.slug}/prompts/import/",
        {"file": _upload(b"x", name)},
        format="multipart",
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["line"] is None and "unsupported file type" in error["message"]


def test_a_file_over_the_limit_is_413(world, settings):
    settings.IMPORT_MAX_BYTES = 10
    response = client_for(world.users["lead"]).post(
        f"/api/v1/projects/{world.a.slug}/prompts/import/",
        {"file": _upload(b'{"prompt": "a long enough prompt"}\n', "p.jsonl")},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_good_file_is_imported_and_summarised(world):
    content = b'{"external_id": "n1", "prompt": "new?", "responses": ["a", "b"]}\n'
    response = client_for(world.users["lead"]).post(
        f"/api/v1/projects/{world.a.slug}/prompts/import/",
        {"file": _upload(content, "good.jsonl")},
        format="multipart",
    )
    assert response.status_code == 201
    assert response.json()["prompts_created"] == 1
    listed = client_for(world.users["researcher"]).get(
        f"/api/v1/projects/{world.a.slug}/prompts/?external_id=n1"
    )
    (prompt,) = listed.json()["results"]
    assert [c["text"] for c in prompt["candidates"]] == ["a", "b"]
