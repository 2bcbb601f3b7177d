"""Importing prompts (and optionally their responses) from a JSONL or CSV file.

The whole file is read and validated first; only a file without a single error is written,
in one transaction, with bulk inserts. The format is documented in docs/import-format.md.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.db import transaction

from labeling.accounts.models import User
from labeling.judging.services import create_items

from .models import Candidate, ImportBatch, Project, Prompt

MAX_ERRORS = 20
MIN_RESPONSES = 2
MAX_RESPONSES = 9
BATCH_SIZE = 2000
# The widths of the CharFields these values land in.
MAX_EXTERNAL_ID = 200
MAX_MODEL_NAME = 200
MAX_FILENAME = 255

ROLES = ("system", "user", "assistant")
RECORD_FIELDS = ("prompt", "responses", "external_id", "metadata", "consent")
RESPONSE_FIELDS = ("text", "model", "metadata")
CSV_COLUMNS = (
    ("prompt", "messages", "external_id", "consent", "metadata")
    + tuple(f"response_{n}" for n in range(1, MAX_RESPONSES + 1))
    + tuple(f"model_{n}" for n in range(1, MAX_RESPONSES + 1))
)
NUL_MESSAGE = "contains a NUL character (\\u0000), which the database cannot store"
JSONL_SUFFIXES = (".jsonl", ".json")
CSV_SUFFIXES = (".csv",)


@dataclass(frozen=True)
class RowError:
    """One problem in an import file. `line` is None for the file as a whole."""

    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where) or 'file'}: {self.message}"


class ImportFileError(Exception):
    """The file was rejected; `errors` says where and why. Nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class ParsedResponse:
    text: str
    model: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class ParsedRecord:
    line: int
    messages: list[dict]
    responses: list[ParsedResponse]
    external_id: str | None
    metadata: dict
    consent: str


class _Errors:
    """The errors found so far; readers stop once it is `full`, rather than list every line."""

    def __init__(self) -> None:
        self.items: list[RowError] = []

    def add(self, line: int | None, field_name: str | None, message: str) -> None:
        self.items.append(RowError(line, field_name, message))

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def __bool__(self) -> bool:
        return bool(self.items)


def import_prompts(
    *, project: Project, fileobj: IO[bytes], filename: str, by: User | None
) -> ImportBatch:
    """Validate a whole JSONL or CSV file, then write its prompts, candidates and items at once."""
    records = parse_file(project=project, fileobj=fileobj, filename=filename)
    return _write(project=project, records=records, filename=filename, by=by)


def parse_file(*, project: Project, fileobj: IO[bytes], filename: str) -> list[ParsedRecord]:
    """Read, decode and validate an import file; raise ImportFileError listing what is wrong."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        message = f"unsupported file type '{suffix or filename}': use .jsonl or .csv"
        raise ImportFileError([RowError(None, None, message)])
    text = _read_text(fileobj)
    errors = _Errors()
    if suffix in CSV_SUFFIXES:
        records = _parse_csv(text, project=project, errors=errors)
    else:
        records = _parse_jsonl(text, project=project, errors=errors)
    if not errors.full:
        _check_duplicate_external_ids(records, errors)
    if not errors and not records:
        errors.add(None, None, "the file has no records")
    if errors:
        items = sorted(errors.items[:MAX_ERRORS], key=lambda e: e.line or 0)
        if errors.full:
            items.append(RowError(None, None, f"stopped checking after {MAX_ERRORS} errors"))
        raise ImportFileError(items)
    return records


def describe_batch(batch: ImportBatch) -> str:
    """The one-sentence summary shown after an import."""
    return (
        f"Imported {_count(batch.prompts_created, 'prompt')}, "
        f"{_count(batch.candidates_created, 'candidate')}, "
        f"{_count(batch.items_created, 'item')}; "
        f"{batch.skipped} skipped (external id already present)."
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# Reading


def _read_text(fileobj: IO[bytes]) -> str:
    limit = settings.IMPORT_MAX_BYTES
    size = getattr(fileobj, "size", None)
    if size is not None and size > limit:
        raise ImportFileError([RowError(None, None, _too_large(limit))])
    data = fileobj.read(limit + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > limit:
        raise ImportFileError([RowError(None, None, _too_large(limit))])
    if not data.strip():
        raise ImportFileError([RowError(None, None, "the file is empty")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(
            [RowError(line, None, "the file is not UTF-8 text (save it as UTF-8 and try again)")]
        ) from None
    return text.removeprefix("\ufeff")


def _too_large(limit: int) -> str:
    return f"the file is larger than the limit of {limit:,} bytes"


# JSONL


def _parse_jsonl(text: str, *, project: Project, errors: _Errors) -> list[ParsedRecord]:
    if text.lstrip().startswith("["):
        errors.add(1, None, "the file is a JSON list; put one JSON object on each line (JSONL)")
        return []
    records = []
    # Split on "\n" only: str.splitlines() would also split inside a JSON string holding
    # U+2028 or similar, and then the line numbers in errors would be wrong.
    for line_no, line in enumerate(text.split("\n"), start=1):
        if errors.full:
            break
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.add(line_no, None, f"broken JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(raw, dict):
            errors.add(line_no, None, f"expected a JSON object, got {_kind(raw)}")
            continue
        if _has_nul(raw):
            errors.add(line_no, None, NUL_MESSAGE)
            continue
        record = _record_from_json(raw, line=line_no, project=project, errors=errors)
        if record is not None:
            records.append(record)
    return records


def _record_from_json(
    raw: dict, *, line: int, project: Project, errors: _Errors
) -> ParsedRecord | None:
    before = len(errors.items)
    for name in raw:
        if name not in RECORD_FIELDS:
            errors.add(line, name, f"unknown field (allowed: {', '.join(RECORD_FIELDS)})")
    if raw.get("prompt") is None:
        errors.add(line, "prompt", "is required")
        messages = []
    else:
        messages = _messages(raw["prompt"], line=line, name="prompt", errors=errors)
    responses = _json_responses(raw.get("responses"), line=line, errors=errors)
    if responses is not None:
        _check_response_count(len(responses), project=project, line=line, errors=errors)
    external_id = _external_id(raw.get("external_id"), line=line, errors=errors)
    metadata = _metadata(raw.get("metadata"), line=line, name="metadata", errors=errors)
    consent = _consent(raw.get("consent"), line=line, errors=errors)
    if len(errors.items) > before:
        return None
    return ParsedRecord(line, messages, responses or [], external_id, metadata, consent)


def _json_responses(value: Any, *, line: int, errors: _Errors) -> list[ParsedResponse] | None:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(line, "responses", f"expected a list, got {_kind(value)}")
        return None
    responses = []
    for n, entry in enumerate(value):
        name = f"responses[{n}]"
        if isinstance(entry, str):
            if not entry.strip():
                errors.add(line, name, "must not be empty")
            responses.append(ParsedResponse(entry))
            continue
        if not isinstance(entry, dict):
            errors.add(line, name, f"expected a string or an object, got {_kind(entry)}")
            responses.append(ParsedResponse(""))  # still counts towards the number of responses
            continue
        for key in entry:
            if key not in RESPONSE_FIELDS:
                errors.add(
                    line, f"{name}.{key}", f"unknown field (allowed: {', '.join(RESPONSE_FIELDS)})"
                )
        text = entry.get("text")
        if not isinstance(text, str):
            errors.add(line, f"{name}.text", _expected("a string", text))
        elif not text.strip():
            errors.add(line, f"{name}.text", "must not be empty")
        model = _model(entry.get("model"), line=line, name=f"{name}.model", errors=errors)
        metadata = _metadata(
            entry.get("metadata"), line=line, name=f"{name}.metadata", errors=errors
        )
        responses.append(ParsedResponse(text if isinstance(text, str) else "", model, metadata))
    return responses


# CSV


def _parse_csv(text: str, *, project: Project, errors: _Errors) -> list[ParsedRecord]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as exc:
        errors.add(1, None, f"broken CSV: {exc}")
        return []
    _check_header(header, errors)
    if errors:
        return []
    records = []
    end_of_previous = reader.line_num
    while not errors.full:
        # A quoted cell may span lines: a row starts on the line after the previous one ended.
        line = end_of_previous + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.add(line, None, f"broken CSV: {exc}")
            break
        end_of_previous = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if _has_nul(row):
            errors.add(line, None, NUL_MESSAGE)
            continue
        if len(row) > len(header):
            errors.add(line, None, f"the row has {len(row)} cells but the header has {len(header)}")
            continue
        cells = {name: value for name, value in zip(header, row, strict=False) if value.strip()}
        record = _record_from_csv(cells, line=line, project=project, errors=errors)
        if record is not None:
            records.append(record)
    return records


def _check_header(header: list[str], errors: _Errors) -> None:
    seen = set()
    for name in header:
        if not name:
            errors.add(1, None, "a column has no name")
        elif name not in CSV_COLUMNS:
            errors.add(1, name, "unknown column (see docs/import-format.md for the column names)")
        elif name in seen:
            errors.add(1, name, "the column appears twice")
        seen.add(name)
    if "prompt" not in seen and "messages" not in seen:
        errors.add(1, "prompt", "the header needs a 'prompt' or a 'messages' column")


def _record_from_csv(
    cells: dict[str, str], *, line: int, project: Project, errors: _Errors
) -> ParsedRecord | None:
    before = len(errors.items)
    messages = []
    if "prompt" in cells and "messages" in cells:
        errors.add(line, "messages", "fill in either 'prompt' or 'messages', not both")
    elif "prompt" in cells:
        messages = [{"role": "user", "content": cells["prompt"]}]
    elif "messages" in cells:
        value = _json_cell(cells["messages"], line=line, name="messages", errors=errors)
        if value is not None:
            messages = _messages(value, line=line, name="messages", errors=errors)
    else:
        errors.add(line, "prompt", "is required (fill in 'prompt' or 'messages')")
    responses = _csv_responses(cells, line=line, errors=errors)
    _check_response_count(len(responses), project=project, line=line, errors=errors)
    external_id = _external_id(cells.get("external_id"), line=line, errors=errors)
    metadata = None
    if "metadata" in cells:
        metadata = _json_cell(cells["metadata"], line=line, name="metadata", errors=errors)
    metadata = _metadata(metadata, line=line, name="metadata", errors=errors)
    consent = _consent(cells.get("consent"), line=line, errors=errors)
    if len(errors.items) > before:
        return None
    return ParsedRecord(line, messages, responses, external_id, metadata, consent)


def _csv_responses(cells: dict[str, str], *, line: int, errors: _Errors) -> list[ParsedResponse]:
    responses = []
    for n in range(1, MAX_RESPONSES + 1):
        text, model = cells.get(f"response_{n}"), cells.get(f"model_{n}")
        if text is None:
            if model is not None:
                errors.add(line, f"model_{n}", f"is set but response_{n} is empty")
            continue
        if len(responses) != n - 1:
            errors.add(line, f"response_{n}", f"is set but response_{len(responses) + 1} is empty")
        responses.append(
            ParsedResponse(text, _model(model, line=line, name=f"model_{n}", errors=errors))
        )
    return responses


def _json_cell(value: str, *, line: int, name: str, errors: _Errors) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        errors.add(line, name, f"broken JSON: {exc.msg} (column {exc.colno})")
        return None


# Field checks shared by both formats


def _messages(value: Any, *, line: int, name: str, errors: _Errors) -> list[dict]:
    if isinstance(value, str):
        if not value.strip():
            errors.add(line, name, "must not be empty")
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        errors.add(line, name, _expected("a string or a list of messages", value))
        return []
    if not value:
        errors.add(line, name, "the list of messages is empty")
        return []
    messages = []
    for n, message in enumerate(value):
        where = f"{name}[{n}]"
        if not isinstance(message, dict):
            errors.add(line, where, _expected("an object with 'role' and 'content'", message))
            continue
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            errors.add(line, where, f"unknown field(s) {', '.join(extra)} (allowed: role, content)")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            errors.add(line, f"{where}.role", f"must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            errors.add(line, f"{where}.content", _expected("a string", content))
        elif not content.strip():
            errors.add(line, f"{where}.content", "must not be empty")
        messages.append({"role": role, "content": content})
    if messages and messages[-1]["role"] != "user":
        errors.add(
            line, name, f"the conversation must end with a user turn, not {messages[-1]['role']!r}"
        )
    return messages


def _check_response_count(count: int, *, project: Project, line: int, errors: _Errors) -> None:
    if count == 0:
        return
    if project.mode == Project.Mode.PAIRWISE:
        if count != 2:
            errors.add(
                line, "responses", f"expected 2 responses in a pairwise project, got {count}"
            )
    elif not MIN_RESPONSES <= count <= MAX_RESPONSES:
        errors.add(
            line,
            "responses",
            f"expected {MIN_RESPONSES} to {MAX_RESPONSES} responses (or none), got {count}",
        )


def _external_id(value: Any, *, line: int, errors: _Errors) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(line, "external_id", _expected("a string", value))
        return None
    if not value.strip():
        errors.add(line, "external_id", "must not be empty (leave it out instead)")
    elif len(value) > MAX_EXTERNAL_ID:
        errors.add(line, "external_id", f"is longer than {MAX_EXTERNAL_ID} characters")
    return value


def _model(value: Any, *, line: int, name: str, errors: _Errors) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(line, name, _expected("a string", value))
        return ""
    if len(value) > MAX_MODEL_NAME:
        errors.add(line, name, f"is longer than {MAX_MODEL_NAME} characters")
    return value


def _metadata(value: Any, *, line: int, name: str, errors: _Errors) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(line, name, _expected("an object", value))
        return {}
    return value


def _consent(value: Any, *, line: int, errors: _Errors) -> str:
    if value is None:
        return Prompt.Consent.UNKNOWN
    if value not in Prompt.Consent.values:
        allowed = ", ".join(Prompt.Consent.values)
        errors.add(line, "consent", f"must be one of {allowed}, got {value!r}")
        return Prompt.Consent.UNKNOWN
    return value


def _check_duplicate_external_ids(records: list[ParsedRecord], errors: _Errors) -> None:
    first_line: dict[str, int] = {}
    for record in records:
        if record.external_id is None:
            continue
        if record.external_id in first_line:
            errors.add(
                record.line,
                "external_id",
                f"{record.external_id!r} also appears on line {first_line[record.external_id]}",
            )
            if errors.full:
                return
        else:
            first_line[record.external_id] = record.line


def _has_nul(value: Any) -> bool:
    """Whether a NUL character hides anywhere in a parsed value (PostgreSQL cannot store it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _expected(what: str, value: Any) -> str:
    return f"expected {what}, got {_kind(value)}"


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# Writing


@transaction.atomic
def _write(
    *, project: Project, records: list[ParsedRecord], filename: str, by: User | None
) -> ImportBatch:
    # One import at a time per project, so two uploads of the same file cannot both pass
    # the "external id already present" check and then collide on the unique constraint.
    Project.objects.select_for_update().get(pk=project.pk)
    wanted = [r.external_id for r in records if r.external_id is not None]
    present = set(
        Prompt.objects.filter(project=project, external_id__in=wanted).values_list(
            "external_id", flat=True
        )
    )
    fresh = [r for r in records if r.external_id not in present]

    batch = ImportBatch.objects.create(
        project=project, filename=filename[:MAX_FILENAME], created_by=by
    )
    # Foreign keys are set as plain ids (prompt_id=…, not prompt=…): for tens of thousands
    # of rows the related-object descriptors are a noticeable share of the import time.
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                project_id=project.pk,
                messages=r.messages,
                external_id=r.external_id,
                consent=r.consent,
                metadata=r.metadata,
                batch_id=batch.pk,
            )
            for r in fresh
        ],
        batch_size=BATCH_SIZE,
    )
    with_responses = [(r, p.pk) for r, p in zip(fresh, prompts, strict=True) if r.responses]
    candidates = Candidate.objects.bulk_create(
        [
            Candidate(
                prompt_id=prompt_id,
                text=response.text,
                model_name=response.model,
                metadata=response.metadata,
            )
            for r, prompt_id in with_responses
            for response in r.responses
        ],
        batch_size=BATCH_SIZE,
    )
    # Candidates were created in file order, so they are handed out to the items in order.
    candidate_ids = iter(c.pk for c in candidates)
    items = create_items(
        project=project,
        groups=[
            (prompt_id, [next(candidate_ids) for _ in record.responses])
            for record, prompt_id in with_responses
        ],
    )

    batch.prompts_created = len(prompts)
    batch.candidates_created = len(candidates)
    batch.items_created = len(items)
    batch.skipped = len(records) - len(fresh)
    batch.save(
        update_fields=[
            "prompts_created",
            "candidates_created",
            "items_created",
            "skipped",
            "updated_at",
        ]
    )
    return batch
