"""Exports over the API: start, poll, list, and downloads with exact lengths and ranges."""

import hashlib
import tarfile
from io import BytesIO

from labeling.datasets.models import Export

from .conftest import client_for


def _bytes(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_download_has_length_disposition_etag_and_the_files_bytes(world, exports_dir):
    client = client_for(world.users["researcher"])
    url = f"/api/v1/projects/{world.a.slug}/exports/{world.export.version}/files/README.md"
    response = client.get(url, HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200
    body = _bytes(response)
    on_disk = (exports_dir / world.export.folder / "README.md").read_bytes()
    assert body == on_disk
    assert response["Content-Length"] == str(len(on_disk))
    assert response["Content-Disposition"] == (
        f'attachment; filename="{world.a.slug}-v1-README.md"'
    )
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.sha256(on_disk).hexdigest()}"'


def test_a_range_request_gets_206_and_just_those_bytes(world, exports_dir):
    client = client_for(world.users["lead"])
    url = f"/api/v1/projects/{world.a.slug}/exports/{world.export.version}/files/README.md"
    on_disk = (exports_dir / world.export.folder / "README.md").read_bytes()
    size = len(on_disk)

    part = client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert _bytes(part) == on_disk[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{size}"
    assert part["Content-Length"] == "10"

    tail = client.get(url, HTTP_RANGE="bytes=-5")
    assert _bytes(tail) == on_disk[-5:]
    rest = client.get(url, HTTP_RANGE=f"bytes={size - 3}-")
    assert _bytes(rest) == on_disk[-3:]

    beyond = client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{size}"

    changed = client.get(url, HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"other"')
    assert changed.status_code == 200 and _bytes(changed) == on_disk


def test_the_archive_streams_a_tar_of_the_export(world):
    client = client_for(world.users["researcher"])
    response = client.get(
        f"/api/v1/projects/{world.a.slug}/exports/{world.export.version}/archive/"
    )
    body = _bytes(response)
    assert response["Content-Length"] == str(len(body))
    with tarfile.open(fileobj=BytesIO(body)) as tar:
        names = tar.getnames()
    assert f"{world.a.slug}-v1/README.md" in names


def test_start_poll_and_list_exports(world):
    client = client_for(world.users["researcher"])
    base = f"/api/v1/projects/{world.a.slug}/exports/"
    made = client.post(base, {"format": "ratings", "file_type": "csv", "seed": 3}, format="json")
    assert made.status_code == 201
    assert made.json()["version"] == 2 and made.json()["status"] == "queued"
    assert made.json()["files"] == [] and made.json()["archive_url"] is None
    polled = client.get(f"{base}2/").json()
    assert polled["options"]["seed"] == 3
    not_ready = client.get(f"{base}2/files/README.md")
    assert not_ready.status_code == 409 and not_ready.json()["code"] == "export_not_ready"
    done = client.get(f"{base}?status=done").json()["results"]
    assert [e["version"] for e in done] == [1]
    assert done[0]["files"][0]["url"].startswith(base + "1/files/")
    assert Export.objects.filter(project=world.a).count() == 2


def test_bad_export_options_are_400_with_the_reason(world):
    client = client_for(world.users["researcher"])
    base = f"/api/v1/projects/{world.a.slug}/exports/"
    unknown = client.post(base, {"colour": "blue"}, format="json")
    assert unknown.status_code == 400 and "colour" in unknown.json()["errors"]
    wrong = client.post(base, {"format": "openai", "file_type": "csv"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["errors"] == {
        "non_field_errors": ["openai is written as jsonl, parquet, not csv"]
    }


def test_cursor_pages_are_stable_while_rows_are_added(world):
    client = client_for(world.users["researcher"])
    base = f"/api/v1/projects/{world.a.slug}/exports/"
    for _ in range(3):
        client.post(base, {}, format="json")
    first = client.get(base + "?page_size=2").json()
    assert [e["version"] for e in first["results"]] == [4, 3]
    client.post(base, {}, format="json")  # v5 arrives between pages
    second = client.get(first["next"]).json()
    assert [e["version"] for e in second["results"]] == [2, 1]
