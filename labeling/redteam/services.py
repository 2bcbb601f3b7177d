"""Every write of red teaming: attacks, their generation, verdicts, promotion; and the stats.

Who does what: trainers write attacks and judge the responses to their own attacks (the
author knows what the attack was after, as in Anthropic's red-team attempts); leads choose
endpoints, start generation, read the success rates and promote; leads and researchers export.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet

from labeling.core import audit
from labeling.generation.models import GenerationJob, GenerationUnit, ModelEndpoint
from labeling.generation.services import endpoints_for, start_generation_job
from labeling.judging.models import Item
from labeling.judging.services import create_items, quarantine_prompt
from labeling.projects.models import Candidate, Membership, Project, Prompt
from labeling.projects.taxonomy import BASE_FLAGS, QUARANTINE_KEY, harm_mask

from .models import SEVERITY_MAX, Attack, AttemptJudgment, Promotion, RedTeamSettings

# What an attack may aim at: the harm taxonomy, less sexual content involving minors, which
# nobody is asked to elicit (a response showing it is still rated, and quarantined at once).
ATTACK_CATEGORIES: tuple[tuple[str, str], ...] = tuple(
    (f.key, f.label) for f in BASE_FLAGS if f.kind == "harm" and f.key != QUARANTINE_KEY
)
# What a response is rated on: every harm category of the taxonomy.
SEVERITY_CATEGORIES: tuple[tuple[str, str], ...] = tuple(
    (f.key, f.label) for f in BASE_FLAGS if f.kind == "harm"
)
CATEGORY_LABELS = dict(SEVERITY_CATEGORIES)
SEVERITY_SCALE = (
    (0, "none"),
    (1, "mild"),
    (2, "moderate"),
    (3, "severe"),
    (4, "extreme"),
)
Role = Membership.Role


# Settings and generation -------------------------------------------------------------------


def settings_of(project: Project) -> RedTeamSettings:
    """The project's red-team settings row (made on first use)."""
    row, _ = RedTeamSettings.objects.get_or_create(project=project)
    return row


@transaction.atomic
def save_settings(
    *, project: Project, endpoints: list[ModelEndpoint], samples_per_endpoint: int
) -> RedTeamSettings:
    """Choose the endpoints (and samples) every new attack is sent to automatically."""
    allowed = set(endpoints_for(project=project).values_list("pk", flat=True))
    if any(e.pk not in allowed for e in endpoints):
        raise ValidationError("Pick this project's endpoints only.")
    row = settings_of(project)
    row.samples_per_endpoint = samples_per_endpoint
    row.save(update_fields=["samples_per_endpoint"])
    row.endpoints.set(endpoints)
    return row


def generate_responses(
    *,
    project: Project,
    by,
    endpoints: list[ModelEndpoint],
    only_new: bool = True,
    samples_per_endpoint: int = 1,
) -> GenerationJob:
    """Send attacks to endpoints through the ordinary generation job (never pairing them).

    Red-team responses are judged one by one, so the job builds no items: random pairs with
    zero pairs per prompt. A unit whose response exists already (same prompt, endpoint and
    parameters) is stored once and makes no call, so re-sending all attacks is cheap.
    """
    Selection = GenerationJob.Selection
    return start_generation_job(
        project=project,
        by=by,
        endpoints=endpoints,
        selection=Selection.WITHOUT_CANDIDATES if only_new else Selection.ALL,
        samples_per_endpoint=samples_per_endpoint,
        pairing_strategy=GenerationJob.Pairing.RANDOM_PAIRS,
        pairs_per_prompt=0,
    )


# Attacks -----------------------------------------------------------------------------------


@transaction.atomic
def write_attack(
    *, project: Project, author, messages: list[dict], category: str, tactic: str
) -> Attack:
    """Store a trainer's attack as a prompt of the project; send it to the default endpoints."""
    if not project.is_red_team:
        raise ValidationError("Attacks are written in red-team projects only.")
    if category not in dict(ATTACK_CATEGORIES):
        raise ValidationError(f"“{category}” is not a category of the harm taxonomy.")
    if not messages or messages[-1].get("role") != "user":
        raise ValidationError("An attack ends with a user turn.")
    prompt = Prompt.objects.create(
        project=project,
        messages=messages,
        metadata={"redteam": {"category": category, "tactic": tactic}},
    )
    attack = Attack.objects.create(
        project=project, prompt=prompt, author=author, category=category, tactic=tactic
    )
    defaults = settings_of(project)
    endpoints = list(defaults.endpoints.all())
    if endpoints:
        generate_responses(
            project=project,
            by=author,
            endpoints=endpoints,
            samples_per_endpoint=defaults.samples_per_endpoint,
        )
    return attack


def live_attacks(*, project: Project) -> QuerySet[Attack]:
    """The project's attacks whose prompt was neither deleted on request nor quarantined."""
    return Attack.objects.filter(
        project=project, prompt__deleted_at__isnull=True, prompt__quarantined_at__isnull=True
    )


def visible_attacks(*, project: Project, membership: Membership) -> QuerySet[Attack]:
    """Leads see every attack of the project; a trainer only their own."""
    attacks = live_attacks(project=project)
    if membership.role != Role.LEAD:
        attacks = attacks.filter(author_id=membership.user_id)
    return attacks


def with_progress(attacks: QuerySet[Attack]) -> QuerySet[Attack]:
    """Annotate responses, judged responses and successes (distinct counts, one query)."""
    return attacks.select_related("author", "prompt").annotate(
        n_responses=Count("prompt__candidates", distinct=True),
        n_judged=Count("judgments", distinct=True),
        n_success=Count("judgments", filter=Q(judgments__success=True), distinct=True),
    )


def next_attack_to_judge(*, project: Project, author) -> Attack | None:
    """The author's oldest attack with a response they have not judged yet."""
    unjudged = Candidate.objects.filter(prompt=OuterRef("prompt"), redteam_judgment__isnull=True)
    return (
        live_attacks(project=project)
        .filter(author=author)
        .filter(Exists(unjudged))
        .order_by("created_at", "id")
        .first()
    )


def pending_responses(*, attack: Attack) -> int:
    """Calls for this attack that generation has not finished yet (queued or running)."""
    return (
        GenerationUnit.objects.filter(prompt_id=attack.prompt_id)
        .exclude(status__in=GenerationUnit.FINAL)
        .count()
    )


# Verdicts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    candidate_id: int
    success: bool
    severities: dict[str, int]
    rationale: str = ""


@transaction.atomic
def judge_attack(*, attack: Attack, judge, verdicts: list[Verdict]) -> list[AttemptJudgment]:
    """Store (or revise) the verdict on each response; harmful ones get a content warning."""
    if judge.pk != attack.author_id:
        raise ValidationError("Only the attack's author judges its responses.")
    candidates = {c.pk: c for c in attack.prompt.candidates.select_for_update()}
    out = []
    for v in verdicts:
        candidate = candidates.get(v.candidate_id)
        if candidate is None:
            raise ValidationError(f"Response {v.candidate_id} is not a response to this attack.")
        severities = {k: int(s) for k, s in v.severities.items() if s is not None}
        if any(k not in CATEGORY_LABELS for k in severities) or any(
            not 0 <= s <= SEVERITY_MAX for s in severities.values()
        ):
            raise ValidationError("Severities are 0–4 in categories of the harm taxonomy.")
        if attack.category not in severities:
            raise ValidationError("Rate the severity in the attack's own category.")
        if v.success and severities[attack.category] < 1:
            raise ValidationError("A successful attack has a severity of at least 1.")
        judgment, _ = AttemptJudgment.objects.update_or_create(
            candidate=candidate,
            defaults={
                "attack": attack,
                "judge": judge,
                "success": v.success,
                "severity": severities[attack.category],
                "severities": severities,
                "rationale": v.rationale.strip(),
            },
        )
        harmful = [k for k, s in severities.items() if s >= 1]
        mask = candidate.harm_mask | harm_mask(harmful)
        if mask != candidate.harm_mask:  # later readers (leads, promoted copies) are warned
            candidate.harm_mask = mask
            candidate.save(update_fields=["harm_mask", "updated_at"])
        if QUARANTINE_KEY in harmful:
            quarantine_prompt(
                prompt_id=attack.prompt_id, actor=judge, reason="rated in a red-team judgment"
            )
        out.append(judgment)
    return out


def campaign_counts(*, project: Project) -> dict[str, int]:
    """The overview's counts of a red-team project, in two aggregate queries."""
    attacks = live_attacks(project=project)
    judged = judged_attempts(project=project).aggregate(
        judged=Count("pk"), successes=Count("pk", filter=Q(success=True))
    )
    return {
        "attacks": attacks.count(),
        "responses": Candidate.objects.filter(prompt__attack__in=attacks).count(),
        **judged,
    }


# Success rates -----------------------------------------------------------------------------


@dataclass
class RateRow:
    key: str
    label: str
    attempts: int
    successes: int
    mean_severity: float | None

    @property
    def rate(self) -> float:
        return self.successes / self.attempts if self.attempts else 0.0


def _rows(judgments: QuerySet, by: str, labels: dict[str, str] | None = None) -> list[RateRow]:
    grouped = (
        judgments.values(by)
        .annotate(
            attempts=Count("pk"),
            successes=Count("pk", filter=Q(success=True)),
            mean=Avg("severity"),
        )
        .order_by(by)
    )
    return [
        RateRow(
            key=row[by] or "",
            label=(labels or {}).get(row[by], row[by] or "(unnamed model)"),
            attempts=row["attempts"],
            successes=row["successes"],
            mean_severity=row["mean"],
        )
        for row in grouped
    ]


def judged_attempts(*, project: Project) -> QuerySet[AttemptJudgment]:
    """Every verdict of the project on a prompt still present (not deleted or quarantined)."""
    return AttemptJudgment.objects.filter(
        attack__project=project,
        attack__prompt__deleted_at__isnull=True,
        attack__prompt__quarantined_at__isnull=True,
    )


def success_rates(*, project: Project) -> dict:
    """Attack success rate per category, per model and per category × model (SQL GROUP BY)."""
    judgments = judged_attempts(project=project)
    totals = judgments.aggregate(
        attempts=Count("pk"), successes=Count("pk", filter=Q(success=True))
    )
    cross = {
        (r["attack__category"], r["candidate__model_name"]): (r["attempts"], r["successes"])
        for r in judgments.values("attack__category", "candidate__model_name").annotate(
            attempts=Count("pk"), successes=Count("pk", filter=Q(success=True))
        )
    }
    return {
        "attempts": totals["attempts"],
        "successes": totals["successes"],
        "rate": totals["successes"] / totals["attempts"] if totals["attempts"] else 0.0,
        "attacks": live_attacks(project=project).count(),
        "by_category": _rows(judgments, "attack__category", CATEGORY_LABELS),
        "by_model": _rows(judgments, "candidate__model_name"),
        "cross": cross,
    }


# Promotion ---------------------------------------------------------------------------------


@dataclass
class PromoteResult:
    created: list[int] = field(default_factory=list)  # attack ids with a new item
    waiting: list[int] = field(default_factory=list)  # copied, no safe response yet
    unchanged: list[int] = field(default_factory=list)


def promotion_targets(*, project: Project, lead) -> QuerySet[Project]:
    """Preference projects the same person leads."""
    return (
        Project.objects.filter(
            kind=Project.Kind.PREFERENCE,
            memberships__user=lead,
            memberships__role=Role.LEAD,
        )
        .exclude(pk=project.pk)
        .order_by("name")
    )


def _pick(attack: Attack) -> tuple[Candidate | None, Candidate | None]:
    """The most severe successful response and the mildest unsuccessful one."""
    judgments = list(attack.judgments.select_related("candidate"))
    harmful = sorted(
        (j for j in judgments if j.success), key=lambda j: (-j.severity, j.candidate_id)
    )
    safe = sorted(
        (j for j in judgments if not j.success), key=lambda j: (j.severity, j.candidate_id)
    )
    return (
        harmful[0].candidate if harmful else None,
        safe[0].candidate if safe else None,
    )


def _copy(candidate: Candidate, prompt: Prompt, role: str, attack: Attack) -> Candidate:
    return Candidate.objects.create(
        prompt=prompt,
        text=candidate.text,
        model_name=candidate.model_name,
        harm_mask=candidate.harm_mask,
        metadata={
            **candidate.metadata,
            "redteam": {"role": role, "attack": attack.pk, "source_candidate": candidate.pk},
        },
    )


@transaction.atomic
def promote_attacks(*, attacks: list[Attack], target: Project, by) -> PromoteResult:
    """Copy successful attacks into a preference project: harmful vs safe response, one item.

    Idempotent: an attack promoted before is not copied again; one that was waiting for a
    safe response gets it (and its item) once a response to it was judged unsuccessful.
    """
    result = PromoteResult()
    if not attacks:
        return result
    if not promotion_targets(project=attacks[0].project, lead=by).filter(pk=target.pk).exists():
        raise ValidationError("Pick a preference project you lead.")
    # Two leads promoting the same attack at once take turns on the attack's row.
    locked = set(
        Attack.objects.select_for_update()
        .filter(pk__in=[a.pk for a in attacks])
        .values_list("pk", flat=True)
    )
    for attack in attacks:
        if attack.pk not in locked:
            continue
        harmful, safe = _pick(attack)
        if harmful is None:
            raise ValidationError(f"Attack {attack.pk} has no successful response.")
        promotion = Promotion.objects.filter(attack=attack, target=target).first()
        if promotion is None:
            prompt = Prompt.objects.create(
                project=target,
                messages=attack.prompt.messages,
                external_id=f"redteam-{attack.project.slug}-{attack.pk}",
                metadata={
                    "redteam": {
                        "source_project": attack.project.slug,
                        "attack": attack.pk,
                        "category": attack.category,
                        "tactic": attack.tactic,
                        "expected_winner": "safe",
                    }
                },
            )
            promotion = Promotion.objects.create(
                attack=attack,
                target=target,
                prompt=prompt,
                harmful=_copy(harmful, prompt, "harmful", attack),
                created_by=by,
            )
        if promotion.item_id is not None:
            result.unchanged.append(attack.pk)
            continue
        if safe is None:
            result.waiting.append(attack.pk)
            continue
        promotion.safe = _copy(safe, promotion.prompt, "safe", attack)
        (item,) = create_items(
            project=target,
            groups=[(promotion.prompt_id, [promotion.harmful_id, promotion.safe_id])],
        )
        Item.objects.filter(pk=item.pk).update(
            harm_mask=promotion.harmful.harm_mask | promotion.safe.harm_mask
        )
        promotion.item = item
        promotion.save(update_fields=["safe", "item", "updated_at"])
        result.created.append(attack.pk)
    audit.record(
        action="redteam_promote",
        actor=by,
        project=attacks[0].project,
        target=target.slug,
        attacks=[a.pk for a in attacks],
        items_created=len(result.created),
        waiting=len(result.waiting),
    )
    return result
