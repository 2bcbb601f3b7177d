"""What the labeling screen shows for one assignment, in the order the trainer sees it.

Templates cannot look values up by computed keys, so this module flattens the item, the
rubric and any values already entered into plain rows.
"""

import json
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from string import ascii_uppercase

from django.http import QueryDict
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from labeling.projects.models import Candidate, Flag, Project
from labeling.projects.taxonomy import HARM_FLAG_KEYS, SCALE_MAX, SCALE_MIN, harm_labels

from .forms import SAME, SKIP_REASONS, JudgmentForm, score_field
from .models import Assignment

# One key per flag, in the project's flag order; applied to the response under the cursor.
FLAG_SHORTCUTS = "asdfghjklzcvbnm"
# The pairwise scale on one keyboard row, left response to right response.
STRENGTH_SHORTCUTS = "qwertyu"
SCALE = range(SCALE_MIN, SCALE_MAX + 1)


@dataclass
class ScoreRow:
    dimension: object
    field: str
    selected: str
    anchors: str  # the dimension's anchor texts, as HTML (built once per dimension)
    error: str = ""
    position: int = 0  # the row's place in its response (data-dim)
    cursor: bool = False  # the keyboard cursor starts here (first row of the first response)

    @property
    def inputs(self) -> str:
        """The row's 1–7 radio inputs as HTML (~40 inputs per screen: built with plain string
        formatting, the field name escaped once, instead of a template loop per input)."""
        name = escape(self.field)
        return mark_safe(  # noqa: S308 - every interpolated value is escaped or an int
            "".join(
                f'<label><input type="radio" name="{name}" value="{v}"'
                f"{' checked' if str(v) == self.selected else ''}><span>{v}</span></label>"
                for v in SCALE
            )
        )

    def html(self, letter: str) -> str:
        """The whole row (name, scale, anchors) as HTML, escaped once, without a template."""
        name = escape(self.dimension.name)
        anchors = f'<div class="anchors">{self.anchors}</div>' if self.anchors else ""
        return (
            f'<div class="score-row{" cursor" if self.cursor else ""}" data-dim="{self.position}">'
            f'<span class="dim" title="{escape(self.dimension.description)}">{name}</span>'
            f'<fieldset class="scale" aria-label="{name} of response {escape(letter)}">'
            f"{self.inputs}</fieldset>{anchors}</div>"
        )


@dataclass
class FlagBox:
    flag: Flag
    field: str
    shortcut: str
    checked: bool
    is_harm: bool


@lru_cache(maxsize=512)
def _flag_html(kind: str, description: str, key: str, label: str, shortcut: str) -> tuple:
    """A flag chip's HTML around its field name and checked state, escaped once."""
    kbd = f" <kbd>{escape(shortcut)}</kbd>" if shortcut else ""
    head = f'<label class="{escape(kind)}" title="{escape(description)}"><input type="checkbox" '
    tail = f' value="{escape(key)}" data-flag-key="{escape(shortcut)}"'
    return head, tail, f">{escape(label)}{kbd}</label>"


def flag_inputs(boxes: list[FlagBox]) -> str:
    """A response's flag chips as HTML."""
    parts = []
    for b in boxes:
        head, tail, end = _flag_html(
            b.flag.kind, b.flag.description, b.flag.key, b.flag.label, b.shortcut
        )
        checked = " checked" if b.checked else ""
        parts.append(f'{head}name="{escape(b.field)}"{tail}{checked}{end}')
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated value is escaped


def anchors_html(dimension) -> str:
    return _anchors_html(tuple(dimension.anchor_rows()))


@lru_cache(maxsize=512)
def _anchors_html(rows: tuple[tuple[int, str], ...]) -> str:
    """A dimension's anchor texts as HTML, escaped once per distinct set of anchors."""
    return format_html_join("", "<span><b>{}</b> {}</span>", rows)


@dataclass
class ResponseView:
    letter: str
    index: int
    candidate: Candidate
    score_rows: list[ScoreRow]
    flags: list[FlagBox]
    rank_field: str
    rank_value: str
    warning: list[str] = field(default_factory=list)

    @property
    def flag_inputs(self) -> str:
        return flag_inputs(self.flags)

    @property
    def scores_html(self) -> str:
        """The response's score rows as HTML (a template loop per row cost more than this)."""
        return mark_safe("".join(row.html(self.letter) for row in self.score_rows))  # noqa: S308


@dataclass
class StrengthOption:
    value: str
    label: str
    shortcut: str
    checked: bool

    @property
    def html(self) -> str:
        return (
            f'<label><input type="radio" name="preference" value="{escape(self.value)}" '
            f'data-strength-key="{escape(self.shortcut)}"{" checked" if self.checked else ""}>'
            f"<span>{escape(self.label)}<kbd>{escape(self.shortcut.upper())}</kbd></span></label>"
        )


@lru_cache(maxsize=1)
def skip_options() -> str:
    """The skip reasons as <option> elements (the same on every screen)."""
    return mark_safe(  # noqa: S308 - every interpolated value is escaped
        "".join(
            f'<option value="{escape(v)}">{escape(str(label))}</option>'
            for v, label in SKIP_REASONS
        )
    )


@dataclass
class Screen:
    assignment: Assignment
    project: Project
    turns: list[dict]
    responses: list[ResponseView]
    strength_options: list[StrengthOption] = field(default_factory=list)
    rank_choices: list[int] = field(default_factory=list)
    all_bad: bool = False
    rationale: str = ""
    errors: list[str] = field(default_factory=list)
    skip_reasons: list = field(default_factory=lambda: SKIP_REASONS)
    review_comment: str = ""

    @property
    def is_pair(self) -> bool:
        return self.project.mode == Project.Mode.PAIRWISE

    @property
    def strength_html(self) -> str:
        """The pairwise scale's seven options as HTML."""
        return mark_safe("".join(o.html for o in self.strength_options))  # noqa: S308

    @property
    def skip_options(self) -> str:
        return skip_options()


def answer_as_post(judgment, dimensions) -> QueryDict:
    """A stored judgment as the form data that would produce it (to revise a returned one)."""
    data = QueryDict(mutable=True)
    keys = {d.pk: d.key for d in dimensions}
    for cid, dim_id, value in judgment.scores.values_list("candidate_id", "dimension_id", "value"):
        if dim_id in keys:
            data[score_field(cid, keys[dim_id])] = str(value)
    for cid, key in judgment.flags.values_list("candidate_id", "key"):
        data.appendlist(f"flags-{cid}", key)
    if judgment.ranking is not None:
        for rank, group in enumerate(judgment.ranking, start=1):
            for cid in group:
                data[f"rank-{cid}"] = str(rank)
    elif judgment.strength == 0:
        data["preference"] = SAME
    else:
        data["preference"] = f"{judgment.preferred_id}:{judgment.strength}"
    if judgment.all_bad:
        data["all_bad"] = "on"
    data["rationale"] = judgment.rationale
    return data


def build_screen(
    assignment: Assignment,
    *,
    dimensions,
    flags,
    form: JudgmentForm | None,
    candidates: dict[int, Candidate],
    project: Project | None = None,
) -> Screen:
    """`candidates`: the shown responses by id, with their prompt's messages
    (`selectors.screen_reads`)."""
    project = project or assignment.item.project
    posted = form.data if form is not None and form.is_bound else {}
    field_errors = form.errors if form is not None and form.is_bound else {}
    review_comment = ""
    if assignment.status == Assignment.Status.RETURNED:
        judgment = assignment.judgment
        review_comment = judgment.review_comment or "Please look at this judgment again."
        if not posted:
            posted = answer_as_post(judgment, dimensions)

    messages = json.loads(next(iter(candidates.values())).prompt_messages)
    turns = [
        {"role": m["role"], "content": m["content"], "current": i == len(messages) - 1}
        for i, m in enumerate(messages)
    ]

    anchors = {d.pk: anchors_html(d) for d in dimensions}
    responses = []
    for index, cid in enumerate(assignment.display_order):
        checked_flags = set(posted.getlist(f"flags-{cid}")) if posted else set()
        responses.append(
            ResponseView(
                letter=ascii_uppercase[index],
                index=index,
                candidate=candidates[cid],
                score_rows=[
                    ScoreRow(
                        dimension=d,
                        field=score_field(cid, d.key),
                        selected=posted.get(score_field(cid, d.key), "") if posted else "",
                        anchors=anchors[d.pk],
                        position=position,
                        cursor=index == 0 and position == 0,
                    )
                    for position, d in enumerate(dimensions)
                ],
                flags=[
                    FlagBox(
                        flag=f,
                        field=f"flags-{cid}",
                        shortcut=FLAG_SHORTCUTS[i] if i < len(FLAG_SHORTCUTS) else "",
                        checked=f.key in checked_flags,
                        is_harm=f.key in HARM_FLAG_KEYS,
                    )
                    for i, f in enumerate(flags)
                ],
                rank_field=f"rank-{cid}",
                rank_value=posted.get(f"rank-{cid}", "") if posted else "",
                warning=harm_labels(candidates[cid].harm_mask),
            )
        )

    screen = Screen(
        assignment=assignment,
        project=project,
        turns=turns,
        responses=responses,
        all_bad=bool(posted.get("all_bad")) if posted else False,
        rationale=posted.get("rationale", "") if posted else "",
        errors=sorted({str(e) for errs in field_errors.values() for e in errs}),
        review_comment=review_comment,
    )
    if screen.is_pair:
        a, b = assignment.display_order
        chosen = posted.get("preference", "") if posted else ""
        options = [
            (f"{a}:3", "A much better"),
            (f"{a}:2", "A better"),
            (f"{a}:1", "A slightly better"),
            (SAME, "About the same"),
            (f"{b}:1", "B slightly better"),
            (f"{b}:2", "B better"),
            (f"{b}:3", "B much better"),
        ]
        screen.strength_options = [
            StrengthOption(value=v, label=label, shortcut=k, checked=v == chosen)
            for (v, label), k in zip(options, STRENGTH_SHORTCUTS, strict=True)
        ]
    else:
        screen.rank_choices = list(range(1, len(responses) + 1))
    return screen
