"""Every endpoint × method against every role: the status code, and no other project's data.

Roles: anonymous, a trainer of project A, a trainer of project B only ("outsider"), A's lead,
A's researcher, and a superuser who is no member of A. The API applies the web's rule: a
member without the right role, and every non-member, gets 404.
"""

import io
import json

import pytest

from .conftest import A_MARKERS, B_MARKERS, ROLES, answer_for, client_for

# role order: anonymous, trainer, outsider, lead, researcher, admin
TRAINER_ONLY = (401, "ok", 404, 404, 404, 404)
LEAD_ONLY = (401, 404, 404, "ok", 404, 404)
READERS = (401, 404, 404, "ok", "ok", 404)
MEMBERS = (401, "ok", 404, "ok", "ok", 404)
ANY_USER = (401, "ok", "ok", "ok", "ok", "ok")


def _import_file():
    record = {"prompt": "alpha-prompt imported", "responses": ["x", "y"]}
    return {"file": io.BytesIO(json.dumps(record).encode() + b"\n")}


def _named(data, name):
    data["file"].name = name
    return data


# (id, method, url, body or callable(world), expected per role, success code, format)
ENDPOINTS = [
    ("projects.list", "get", "/api/v1/projects/", None, ANY_USER, 200),
    (
        "projects.create",
        "post",
        "/api/v1/projects/",
        {"name": "New one"},
        (401, 403, 403, "ok", 403, "ok"),
        201,
    ),
    ("project.get", "get", "/api/v1/projects/{a}/", None, MEMBERS, 200),
    ("project.patch", "patch", "/api/v1/projects/{a}/", {"guidelines": "New."}, LEAD_ONLY, 200),
    ("project.stats", "get", "/api/v1/projects/{a}/stats/", None, MEMBERS, 200),
    ("prompts.list", "get", "/api/v1/projects/{a}/prompts/", None, READERS, 200),
    (
        "prompts.import",
        "post",
        "/api/v1/projects/{a}/prompts/import/",
        lambda w: _named(_import_file(), "more.jsonl"),
        LEAD_ONLY,
        201,
    ),
    ("items.list", "get", "/api/v1/projects/{a}/items/", None, READERS, 200),
    ("assignments.next", "post", "/api/v1/projects/{a}/assignments/next/", None, TRAINER_ONLY, 200),
    ("assignment.get", "get", "/api/v1/assignments/{lease}/", None, TRAINER_ONLY, 200),
    (
        "assignment.submit",
        "post",
        "/api/v1/assignments/{lease}/submit/",
        lambda w: answer_for(w.lease),
        TRAINER_ONLY,
        201,
    ),
    (
        "assignment.skip",
        "post",
        "/api/v1/assignments/{lease}/skip/",
        {"reason": "broken"},
        TRAINER_ONLY,
        200,
    ),
    ("judgments.list", "get", "/api/v1/projects/{a}/judgments/", None, READERS, 200),
    ("judgment.get", "get", "/api/v1/projects/{a}/judgments/{judgment}/", None, READERS, 200),
    ("endpoints.list", "get", "/api/v1/projects/{a}/endpoints/", None, LEAD_ONLY, 200),
    (
        "endpoints.create",
        "post",
        "/api/v1/projects/{a}/endpoints/",
        {"name": "e2", "base_url": "http://127.0.0.1:8081/v1", "model": "m2"},
        LEAD_ONLY,
        201,
    ),
    ("endpoint.get", "get", "/api/v1/projects/{a}/endpoints/{endpoint}/", None, LEAD_ONLY, 200),
    (
        "endpoint.patch",
        "patch",
        "/api/v1/projects/{a}/endpoints/{endpoint}/",
        {"temperature": 0.5},
        LEAD_ONLY,
        200,
    ),
    ("jobs.list", "get", "/api/v1/projects/{a}/generation-jobs/", None, LEAD_ONLY, 200),
    (
        "jobs.create",
        "post",
        "/api/v1/projects/{a}/generation-jobs/",
        lambda w: {"endpoints": [w.endpoint.pk], "selection": "all"},
        LEAD_ONLY,
        201,
    ),
    ("job.get", "get", "/api/v1/projects/{a}/generation-jobs/{job}/", None, LEAD_ONLY, 200),
    (
        "job.cancel",
        "post",
        "/api/v1/projects/{a}/generation-jobs/{job}/cancel/",
        None,
        LEAD_ONLY,
        200,
    ),
    (
        "job.retry",
        "post",
        "/api/v1/projects/{a}/generation-jobs/{job}/retry-failed/",
        None,
        LEAD_ONLY,
        200,
    ),
    ("exports.list", "get", "/api/v1/projects/{a}/exports/", None, READERS, 200),
    (
        "exports.create",
        "post",
        "/api/v1/projects/{a}/exports/",
        {"format": "ratings", "file_type": "csv"},
        READERS,
        201,
    ),
    ("export.get", "get", "/api/v1/projects/{a}/exports/{export}/", None, READERS, 200),
    (
        "export.restart",
        "post",
        "/api/v1/projects/{a}/exports/{export}/restart/",
        None,
        READERS,
        409,  # a finished export is not run again
    ),
    (
        "export.file",
        "get",
        "/api/v1/projects/{a}/exports/{export}/files/README.md",
        None,
        READERS,
        200,
    ),
    ("export.archive", "get", "/api/v1/projects/{a}/exports/{export}/archive/", None, READERS, 200),
    ("tokens.list", "get", "/api/v1/tokens/", None, ANY_USER, 200),
    ("tokens.create", "post", "/api/v1/tokens/", {"name": "script"}, ANY_USER, 201),
    ("token.revoke", "delete", "/api/v1/tokens/{token}/", None, ANY_USER, 204),
]
# Only one role can change anything per endpoint, so the six roles share one world per row.
ROWS = [pytest.param(endpoint, id=endpoint[0]) for endpoint in ENDPOINTS]


def _url(template: str, world, token_id) -> str:
    return template.format(
        a=world.a.slug,
        lease=world.lease.code,
        judgment=world.judgment.pk,
        endpoint=world.endpoint.pk,
        job=world.job.pk,
        export=world.export.version,
        token=token_id,
    )


def _body(response) -> str:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _cell(world, endpoint, role) -> str | None:
    """Run one cell; return what is wrong with it, or None."""
    name, method, template, body, expected, success = endpoint
    user = world.users[role]
    client = client_for(user)
    token_id = user.api_tokens.get().pk if user is not None else 1
    url = _url(template, world, token_id)
    data = body(world) if callable(body) else body
    want = dict(zip(ROLES, expected, strict=True))[role]
    want = success if want == "ok" else want
    if name == "prompts.import":
        response = getattr(client, method)(url, data or {}, format="multipart")
    else:
        response = getattr(client, method)(url, data, format="json")
    text = _body(response)
    if response.status_code != want:
        return (
            f"{role}: {method.upper()} {url} -> {response.status_code}, want {want}: {text[:300]}"
        )
    if want >= 400:
        # An error body has the one shape, and says nothing about any project.
        if not set(json.loads(text)) >= {"detail", "code"}:
            return f"{role}: error body without detail and code: {text[:300]}"
        leaked = [m for m in A_MARKERS + B_MARKERS if m in text]
    elif "{a}" in template or "{lease}" in template:
        leaked = [m for m in B_MARKERS if m in text]
    else:
        leaked = []
    return f"{role}: {url} shows {leaked}" if leaked else None


@pytest.mark.parametrize("endpoint", ROWS)
def test_role_matrix(world, endpoint):
    problems = [_cell(world, endpoint, role) for role in ROLES]
    assert [p for p in problems if p] == []


def test_the_project_list_holds_only_the_callers_projects(world):
    seen = {}
    for role in ROLES[1:]:
        response = client_for(world.users[role]).get("/api/v1/projects/")
        seen[role] = sorted(p["slug"] for p in response.json()["results"])
    assert seen == {
        "trainer": [world.a.slug],
        "outsider": [world.b.slug],
        "lead": [world.a.slug],
        "researcher": [world.a.slug],
        "admin": [],
    }


def test_the_matrix_covers_every_operation_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method, path.removeprefix("/api/v1"))
        for path, ops in schema["paths"].items()
        for method in ops
    }
    covered = {
        (
            method,
            template.removeprefix("/api/v1")
            .replace("{a}", "{slug}")
            .replace("{lease}", "{code}")
            .replace("{judgment}", "{id}")
            .replace("{endpoint}", "{id}")
            .replace("{job}", "{id}")
            .replace("{export}", "{version}")
            .replace("{token}", "{id}")
            .replace("README.md", "{name}"),
        )
        for _, method, template, *_ in ENDPOINTS
    }
    assert operations == covered
