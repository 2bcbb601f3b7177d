"""Writers per file type. Each writes one local file, counting bytes and hashing as it goes.

JSONL and CSV bytes go through a background thread that writes and hashes (both release the
GIL), so encoding the next batch overlaps the disk and the sha256. Parquet row groups have a
fixed number of rows, whatever the batch size, so the bytes depend on the data only.
"""

import csv
import hashlib
import io
import queue
import threading
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_ROW_GROUP = 10_000
CHUNK = 1 << 20


class HashingSink:
    """Append bytes to a file from a worker thread, hashing them on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"sink-{path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (chunk := self._queue.get()) is not None:
                self._file.write(chunk)
                self.sha256.update(chunk)
        except BaseException as exc:  # surfaced to the caller in write()/close()
            self._error = exc
            while self._queue.get() is not None:
                pass

    def write(self, data: bytes) -> None:
        if self._error:
            raise self._error
        if data:
            self.size += len(data)
            self._queue.put(data)

    def close(self) -> str:
        if not self._file.closed:
            self._queue.put(None)
            self._thread.join()
            self._file.close()
        if self._error:
            raise self._error
        return self.sha256.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Writer:
    extension = ""

    def __init__(self, path: Path, columns: list[tuple[str, pa.DataType]]) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0

    def write_rows(self, rows: list[dict]) -> None:
        raise NotImplementedError

    def close(self) -> tuple[int, str]:
        """Finish the file; return (bytes, sha256)."""
        raise NotImplementedError


class JsonlWriter(Writer):
    extension = "jsonl"

    def __init__(self, path, columns) -> None:
        super().__init__(path, columns)
        self.sink = HashingSink(path)

    def write_rows(self, rows: list[dict]) -> None:
        dumps, nl = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        self.sink.write(b"".join([dumps(r, option=nl) for r in rows]))
        self.rows += len(rows)

    def close(self) -> tuple[int, str]:
        sha = self.sink.close()
        return self.sink.size, sha


def _flat(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


class CsvWriter(Writer):
    extension = "csv"

    def __init__(self, path, columns) -> None:
        super().__init__(path, columns)
        self.sink = HashingSink(path)
        self.names = [name for name, _ in columns]
        self.sink.write(self._encode([self.names]))

    def _encode(self, rows: list[list]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode()

    def write_rows(self, rows: list[dict]) -> None:
        names = self.names
        self.sink.write(self._encode([[_flat(r[n]) for n in names] for r in rows]))
        self.rows += len(rows)

    def close(self) -> tuple[int, str]:
        sha = self.sink.close()
        return self.sink.size, sha


class ParquetWriter(Writer):
    extension = "parquet"

    def __init__(self, path, columns) -> None:
        super().__init__(path, columns)
        self.schema = pa.schema([pa.field(name, type_) for name, type_ in columns])
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.pending: list[dict] = []

    def _flush(self, rows: list[dict]) -> None:
        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def write_rows(self, rows: list[dict]) -> None:
        self.pending.extend(rows)
        self.rows += len(rows)
        while len(self.pending) >= PARQUET_ROW_GROUP:
            self._flush(self.pending[:PARQUET_ROW_GROUP])
            del self.pending[:PARQUET_ROW_GROUP]

    def close(self) -> tuple[int, str]:
        if self.pending or self.rows == 0:
            self._flush(self.pending)
            self.pending = []
        self.writer.close()
        return self.path.stat().st_size, sha256_of(self.path)


WRITERS: dict[str, type[Writer]] = {w.extension: w for w in (JsonlWriter, CsvWriter, ParquetWriter)}


class KeyWriter:
    """The row keys of an export, one `key<TAB>split` line per row, in output order."""

    def __init__(self, path: Path) -> None:
        self.sink = HashingSink(path)

    def write(self, lines: list[str]) -> None:
        if lines:
            self.sink.write(("\n".join(lines) + "\n").encode())

    def close(self) -> tuple[int, str]:
        sha = self.sink.close()
        return self.sink.size, sha
