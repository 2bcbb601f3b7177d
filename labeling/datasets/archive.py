"""The export folder as one .tar, streamed from storage with an exact Content-Length.

Plain tar (Parquet is already compressed; JSONL users compress as they like) with fixed file
times, owners and modes, so the same files always make the same archive bytes.
"""

import tarfile
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from .models import Export

MTIME = 946_684_800  # 2000-01-01T00:00:00Z
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
CHUNK = 1 << 20


def archive_root(export: Export) -> str:
    return f"{export.project.slug}-v{export.version}"


def members(export: Export, storage) -> list[tuple[str, str, int]]:
    """(name in the archive, storage name, size): the card, the manifest, then the data."""
    wanted = [f for f in export.files if f.get("kind") != "index"]
    wanted.sort(key=lambda f: (bool(f.get("split")), f["name"]))
    out = []
    for f in wanted:
        name = f"{export.folder}/{f['name']}"
        size = f["bytes"] if "bytes" in f else storage.size(name)
        out.append((f"{archive_root(export)}/{f['name']}", name, size))
    return out


def _header(arcname: str, size: int) -> bytes:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = size, MTIME, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")


def _padding(size: int) -> int:
    return -size % BLOCK


def archive_size(entries: list[tuple[str, str, int]]) -> int:
    body = sum(BLOCK + size + _padding(size) for _, _, size in entries) + 2 * BLOCK
    return body + (-body % RECORD)


def stream_archive(entries: list[tuple[str, str, int]], storage) -> Iterator[bytes]:
    written = 0
    for arcname, name, size in entries:
        header = _header(arcname, size)
        written += len(header)
        yield header
        with storage.open(name, "rb") as fh:
            remaining = size
            while remaining > 0 and (chunk := fh.read(min(CHUNK, remaining))):
                remaining -= len(chunk)
                written += len(chunk)
                yield chunk
        if remaining:
            raise OSError(f"{name} is shorter than recorded")
        pad = _padding(size)
        written += pad
        yield b"\0" * pad
    end = 2 * BLOCK
    end += -(written + end) % RECORD
    yield b"\0" * end


def archive_response(export, storage, *, suffix: str = "") -> StreamingHttpResponse:
    """The whole export folder as a streamed .tar download with an exact Content-Length."""
    entries = members(export, storage)
    response = StreamingHttpResponse(
        stream_archive(entries, storage), content_type="application/x-tar"
    )
    response["Content-Length"] = str(archive_size(entries))
    response["Content-Disposition"] = f'attachment; filename="{archive_root(export)}{suffix}.tar"'
    return response
