"""The dataset card (README.md in the Hugging Face layout) and the manifest.

The card is a function of the data and the options only: no time, no export version, no
user, so the same data and options give the same bytes. The manifest carries those.
"""

import json
from importlib import metadata

from django.utils import timezone

from .options import (
    AGGREGATES,
    EXPANSIONS,
    FLAG_EXCLUSIONS,
    FORMATS,
    SCHEMA_VERSION,
    ExportOptions,
    margins_text,
)
from .split import NORMALIZATION

REASONS = {
    "opted_out": "the prompt's owner opted out (consent = opted_out)",
    "gold": "gold item (include_gold is off)",
    "late": "late judgment: the lease had expired and the item was taken (include_late is off)",
    "date_range": "outside the date range",
    "guideline_version": "made under another guideline version",
    "trainer_gold_accuracy": "trainer below the minimum gold accuracy",
    "skipped_item": "the item was skipped by a trainer",
    "flagged_item": "the item has a flagged response",
    "min_judgments": "the item has fewer judgments than min_judgments",
}
STATS = {
    "judgments_both_bad_dropped": "judgments marked both/all bad, dropped",
    "ties_dropped": "ties (or no majority), dropped",
    "pairs_below_agreement": "pairs below min_agreement, dropped",
    "candidates_model_filtered": "responses left out by the model filter",
    "responses_unscored": "responses without a score for the KTO dimension",
}


def app_version() -> str:
    try:
        return metadata.version("labeling")
    except metadata.PackageNotFoundError:
        return "unknown"


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML string


def preference_rule(options: ExportOptions, mode: str) -> str:
    """The rule that decided which response is chosen, in one sentence."""
    if options.format in ("trl_kto", "ratings", "raw"):
        return "not applicable: this format has no pairs"
    if options.preference == "overall":
        rule = "the trainer's overall answer (preferred response and strength, or ranking)"
    elif options.preference == "combined":
        fallback = (
            "the overall answer"
            if options.combine_fallback == "overall"
            else f"{options.combine_fallback} scores"
        )
        rule = (
            f"combined: {options.combine_primary} decides when the two responses' "
            f"{options.combine_primary} scores differ by ≥ {options.combine_threshold}, "
            f"else {fallback} decide (strength = score difference, capped at 3)"
        )
    else:
        rule = (
            f"{options.preference} only: the response with the higher {options.preference} "
            "score is chosen; equal scores are a tie (strength = score difference, capped at 3)"
        )
    if mode == "ranking" and options.preference != "combined":
        rule += f"; rankings expand to pairs by {EXPANSIONS[options.expansion]}"
        if options.preference == "overall":
            rule += " (strength = number of ranks apart, capped at 3)"
    elif options.preference == "combined":
        rule += "; every pair of an item is considered"
    return rule


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(
    *,
    project,
    options: ExportOptions,
    dimensions: list[tuple[str, str]],
    columns: list[tuple[str, object]],
    files: list[dict],
    counts: dict,
    gold_note: str,
) -> str:
    """README.md: YAML header with configs and splits, then how the data was made."""
    label, _, blurb = FORMATS[options.format]
    yaml = ["---", "configs:", "- config_name: default", "  data_files:"]
    for f in files:
        yaml += [f"  - split: {f['split']}", f"    path: {f['name']}"]
    tags = ["preference", "rlhf", "human-feedback"]
    if options.format.startswith("trl"):
        tags.append("trl")
    yaml += [f"pretty_name: {_yaml_str(project.name + ' · ' + label)}", "tags:"]
    yaml += [f"- {t}" for t in tags]
    yaml.append("---")

    o = options
    split_rows = [[f["split"], f"{f['rows']:,}", f"`{f['name']}`"] for f in files]
    excluded = counts.get("excluded", {})
    excl_rows = [[REASONS.get(k, k), f"{v:,}"] for k, v in sorted(excluded.items())]
    stat_rows = [[STATS.get(k, k), f"{v:,}"] for k, v in sorted(counts.get("dropped", {}).items())]
    versions = counts.get("guideline_versions", [])
    lines = [
        "\n".join(yaml),
        "",
        f"# {project.name}: {label}",
        "",
        f"{blurb} Built from human judgments in the labeling project `{project.slug}` "
        f"({project.get_mode_display().lower()}).",
        "",
        "## Splits",
        "",
        _table(["split", "rows", "file"], split_rows)
        if split_rows
        else "No rows matched the options.",
        "",
        f"Split by prompt: a prompt is in `test` when the first 8 bytes of "
        f"sha256(seed `{o.seed}`, NUL, normalized conversation) read as an integer are below "
        f"{o.test_ratio} × 2⁶⁴ (normalization: {NORMALIZATION}). No prompt is in two splits, "
        "the same prompt imported twice lands in the same split, and the same seed gives the "
        "same split on later exports.",
        "",
        "## Columns",
        "",
        _table(["column", "type"], [[f"`{n}`", f"`{t}`"] for n, t in columns]),
        "",
        "## How rows were made",
        "",
        f"- Preference: {preference_rule(o, project.mode)}.",
        f"- Aggregation: {AGGREGATES[o.aggregate]}"
        + (
            "; `agreement` = share of the judgments giving the most common answer, "
            "`n_judgments` = judgments of the pair. With no strict majority the pair is a tie."
            if o.aggregate == "majority"
            else "."
        ),
        f"- Ties: {o.ties}. Both/all bad: {o.both_bad}.",
        f"- Margin (`margin` column) from strength (0 same … 3 much better): "
        f"`{margins_text(o.margins)}`; aggregated rows take the mean over the agreeing "
        "judgments.",
    ]
    if o.format == "trl_kto":
        dim = "the mean of all rubric dimensions" if o.kto_dimension == "mean" else o.kto_dimension
        lines.append(
            f"- KTO label: true when the response's mean score on {dim} is ≥ {o.kto_threshold} "
            "(scale 1–7), else false."
        )
    if o.format == "hh":
        lines.append(
            "- HH text has no slot for system messages: they are left out of the transcripts."
        )
    if o.format == "openai":
        lines.append(
            "- OpenAI's format allows only its three fields: no margin, group id or agreement."
        )
    lines += [
        "",
        "## Filters",
        "",
        f"- Minimum judgments per item: {o.min_judgments}; minimum agreement: {o.min_agreement}.",
        f"- Skipped items excluded: {'yes' if o.exclude_skipped else 'no'}; flagged items: "
        f"{FLAG_EXCLUSIONS[o.exclude_flagged]}.",
        f"- Gold accuracy: {gold_note}.",
        f"- Dates: {o.date_from or 'any'} to {o.date_to or 'any'}; guideline versions: "
        f"{', '.join(map(str, o.guideline_versions)) or 'all'}; models: "
        f"{', '.join(o.models) or 'all'}.",
        f"- Gold items included: {'yes' if o.include_gold else 'no'}; late judgments included: "
        f"{'yes' if o.include_late else 'no'}.",
        "",
        "## Source",
        "",
        f"- Project `{project.slug}`, mode {project.mode}, guidelines now at version "
        f"{project.guidelines_version}; judgments in this dataset were made under version(s) "
        f"{', '.join(map(str, versions)) or '—'}.",
        "- Rubric (scores 1–7): "
        + (", ".join(f"`{k}` ({name})" for k, name in dimensions) or "none")
        + ".",
        f"- {counts.get('judgments', 0):,} judgments of {counts.get('items', 0):,} items by "
        f"{counts.get('trainers', 0):,} trainers. Trainers appear only as pseudonyms "
        "(`t-` + HMAC-SHA256 of the user id under the deployment's key), the same in every "
        "project of this deployment.",
        "",
        "## Left out",
        "",
        _table(["reason", "judgments"], excl_rows) if excl_rows else "No judgment was left out.",
        "",
        f"Prompts whose owner opted out: {counts.get('opted_out_prompts', 0):,} (never exported). "
        "Prompts deleted on request or quarantined are never exported either.",
    ]
    if stat_rows:
        lines += ["", _table(["while building", "count"], stat_rows)]
    lines += [
        "",
        "## Known limits",
        "",
        _redaction_line(o, counts),
        "- Ids (`group_id`, `prompt_id`, `candidate_id`) are this deployment's database ids.",
        "- Scores and preferences are single trainers' opinions unless aggregated; check "
        "`agreement`.",
        "",
        "## Options",
        "",
        "```json",
        json.dumps(o.data_options(), indent=2, sort_keys=True, ensure_ascii=False),
        "```",
        "",
        f"Schema version {SCHEMA_VERSION}.",
        "",
    ]
    return "\n".join(lines)


def render_manifest(*, export, options: ExportOptions, files: list[dict], counts: dict) -> str:
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "app_version": app_version(),
        "created_at": timezone.now().isoformat(),
        "project": export.project.slug,
        "export_version": export.version,
        "format": options.format,
        "file_type": options.file_type,
        "options": options.to_dict(),
        "counts": counts,
        "files": files,
    }
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _redaction_line(options, counts: dict) -> str:
    from labeling.privacy.redact import NOT_DETECTED

    if not options.redact_pii:
        return "- Personal data in prompts and responses is not redacted."
    found = counts.get("redactions") or {}
    made = ", ".join(f"{n:,} {kind}" for kind, n in sorted(found.items())) or "none found"
    return (
        "- Personal data redacted with typed placeholders (`[EMAIL]`, `[PHONE]`, `[IP]`, "
        f"`[CARD]`, `[ADDRESS]` for US, Canadian and UK street addresses): {made}. "
        f"Not detected: {', '.join(NOT_DETECTED)}."
    )
