"""The committed OpenAPI schema is what the code generates, valid and complete."""

from pathlib import Path

import yaml
from django.core.management import call_command

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_the_committed_schema_matches_the_code(tmp_path):
    fresh = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(fresh))
    assert fresh.read_text() == COMMITTED.read_text(), (
        "docs/openapi.yaml is out of date: run `make schema` and commit it (it runs "
        "`manage.py spectacular --validate --file docs/openapi.yaml` with a PostgreSQL "
        "DATABASE_URL, since field bounds follow the database backend)."
    )


def test_every_operation_documents_auth_bodies_and_errors():
    schema = yaml.safe_load(COMMITTED.read_text())
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("security"), where
            assert any(code.startswith("2") for code in op["responses"]), where
            assert {"401", "404"} <= set(op["responses"]), where
            if method == "get" and op["operationId"].endswith("_list"):
                names = {p["name"] for p in op.get("parameters", [])}
                assert {"cursor", "page_size"} <= names, where
                (ok,) = [r for c, r in op["responses"].items() if c == "200"]
                ref = ok["content"]["application/json"]["schema"]["$ref"]
                assert ref.split("/")[-1].startswith("Paginated"), where
            if method in ("post", "patch") and "requestBody" in op:
                assert "400" in op["responses"], where
                assert "429" in op["responses"], where


def test_the_docs_page_and_schema_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "<script src=" in html and "<script>" not in html and "<style" not in html
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
