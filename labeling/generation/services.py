"""Every write of the generation side: endpoints, jobs, units, candidates, items."""

import hashlib
import json
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone

from labeling.judging.models import ItemCandidate
from labeling.judging.services import create_items
from labeling.projects.models import Candidate, ImportBatch, Project, Prompt

from . import backends, limiter, pairing
from .models import GenerationJob, GenerationUnit, JobPrompt, ModelEndpoint

log = logging.getLogger(__name__)

Status = GenerationUnit.Status
JobStatus = GenerationJob.Status
# Parameters a job may override per variant, and their bounds.
OVERRIDABLE = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "max_tokens": (1, 32768)}
KEY_VERSION = 1


# Endpoints -----------------------------------------------------------------------------------


def endpoints_for(*, project: Project) -> QuerySet[ModelEndpoint]:
    """The endpoints a project's lead may use: its own and the shared ones."""
    return ModelEndpoint.objects.filter(Q(project=project) | Q(project__isnull=True))


@transaction.atomic
def save_endpoint(*, endpoint: ModelEndpoint, by) -> ModelEndpoint:
    """Validate and save an endpoint (new or edited)."""
    if endpoint.pk is None:
        endpoint.created_by = by
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@dataclass
class ConnectionTest:
    ok: bool
    text: str = ""
    model: str = ""
    latency_ms: int = 0
    error: str = ""
    status: int | None = None


def test_endpoint(*, endpoint: ModelEndpoint) -> ConnectionTest:
    """Make one tiny call to the endpoint and report the answer or the error."""
    params = {
        **unit_params(endpoint=endpoint, overrides={}),
        "max_tokens": min(16, endpoint.max_tokens),
    }
    try:
        done = backends.complete(
            endpoint=endpoint,
            messages=[{"role": "user", "content": "Say hello in five words."}],
            params=params,
            timeout=min(float(endpoint.timeout_seconds), 30.0),
        )
    except backends.GenerationError as exc:
        log.info("endpoint %s test failed: %s", endpoint.pk, exc)
        return ConnectionTest(ok=False, error=exc.message, status=exc.status)
    return ConnectionTest(ok=True, text=done.text, model=done.model, latency_ms=done.latency_ms)


# Jobs ----------------------------------------------------------------------------------------


def unit_params(*, endpoint: ModelEndpoint, overrides: dict) -> dict:
    """The canonical parameters of a call (no seed): endpoint defaults, then overrides."""
    params: dict = {
        "model": endpoint.display_model,
        "temperature": endpoint.temperature,
        "top_p": endpoint.top_p,
        "max_tokens": endpoint.max_tokens,
        "system_prompt": endpoint.system_prompt.strip(),
    }
    params.update({k: v for k, v in overrides.items() if k in OVERRIDABLE})
    for name in ("temperature", "top_p"):
        params[name] = round(float(params[name]), 4)
    params["max_tokens"] = int(params["max_tokens"])
    return {k: v for k, v in sorted(params.items()) if v not in (None, "")}


def unit_key(*, prompt_id: int, endpoint_id: int, params: dict, sample_index: int) -> str:
    """The deterministic key of a unit: a hash of prompt, endpoint, params and sample index."""
    raw = json.dumps(
        {
            "v": KEY_VERSION,
            "prompt": prompt_id,
            "endpoint": endpoint_id,
            "params": params,
            "sample": sample_index,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def seed_from_key(key: str) -> int:
    return int(key[:8], 16) & 0x7FFFFFFF


def clean_variants(variants: list[dict]) -> list[dict]:
    """Check parameter overrides; one empty variant means the endpoint's defaults."""
    out: list[dict] = []
    for variant in variants or [{}]:
        clean: dict = {}
        for name, value in variant.items():
            if name not in OVERRIDABLE:
                raise ValidationError(f"'{name}' cannot be overridden.")
            low, high = OVERRIDABLE[name]
            try:
                number = int(value) if name == "max_tokens" else float(value)
            except (TypeError, ValueError):
                raise ValidationError(f"{name} must be a number.") from None
            if not low <= number <= high:
                raise ValidationError(f"{name} must be between {low} and {high}.")
            clean[name] = number
        if clean not in out:
            out.append(clean)
    return out


def select_prompts(
    *, project: Project, selection: str, batch: ImportBatch | None = None, contains: str = ""
) -> QuerySet[Prompt]:
    """The prompts a job covers."""
    prompts = project.prompts.all()
    if selection == GenerationJob.Selection.WITHOUT_CANDIDATES:
        prompts = prompts.filter(candidates__isnull=True)
    elif selection == GenerationJob.Selection.BATCH:
        if batch is None or batch.project_id != project.pk:
            raise ValidationError("Pick one of this project's imports.")
        prompts = prompts.filter(batch=batch)
    if contains:
        prompts = prompts.filter(messages__icontains=contains)
    return prompts.order_by("id")


@transaction.atomic
def start_generation_job(
    *,
    project: Project,
    by,
    endpoints: list[ModelEndpoint],
    selection: str = GenerationJob.Selection.ALL,
    batch: ImportBatch | None = None,
    contains: str = "",
    samples_per_endpoint: int = 1,
    variants: list[dict] | None = None,
    pairing_strategy: str | None = None,
    pairs_per_prompt: int = 1,
    enqueue: bool = True,
) -> GenerationJob:
    """Create a job and one unit per prompt × endpoint × variant × sample; enqueue after commit."""
    allowed = set(endpoints_for(project=project).values_list("pk", flat=True))
    if not endpoints or any(e.pk not in allowed for e in endpoints):
        raise ValidationError("Pick at least one of this project's endpoints.")
    if not 1 <= samples_per_endpoint <= 20:
        raise ValidationError("Between 1 and 20 samples per endpoint.")
    strategy = pairing_strategy or default_pairing(project=project)
    if project.is_red_team:
        # Red-team responses are judged one by one by their attack's author, never paired.
        strategy, pairs_per_prompt = GenerationJob.Pairing.RANDOM_PAIRS, 0
    if strategy == GenerationJob.Pairing.K_WAY and project.mode == Project.Mode.PAIRWISE:
        raise ValidationError("A pairwise project takes pairs: pick a pairs strategy.")
    variants = clean_variants(variants or [])
    prompt_ids = list(
        select_prompts(
            project=project, selection=selection, batch=batch, contains=contains
        ).values_list("pk", flat=True)
    )
    if not prompt_ids:
        raise ValidationError("No prompts match this selection.")
    total = len(prompt_ids) * len(endpoints) * len(variants) * samples_per_endpoint
    if total > settings.GENERATION_MAX_UNITS_PER_JOB:
        raise ValidationError(
            f"That is {total} calls; one job makes at most "
            f"{settings.GENERATION_MAX_UNITS_PER_JOB}. Narrow the selection."
        )
    job = GenerationJob.objects.create(
        project=project,
        created_by=by,
        selection=selection,
        batch=batch,
        contains=contains,
        samples_per_endpoint=samples_per_endpoint,
        variants=variants,
        pairing=strategy,
        pairs_per_prompt=pairs_per_prompt,
    )
    job.endpoints.set(endpoints)
    units: dict[str, GenerationUnit] = {}
    for prompt_id in prompt_ids:
        for endpoint in endpoints:
            for variant in variants:
                base = unit_params(endpoint=endpoint, overrides=variant)
                for sample in range(samples_per_endpoint):
                    key = unit_key(
                        prompt_id=prompt_id,
                        endpoint_id=endpoint.pk,
                        params=base,
                        sample_index=sample,
                    )
                    sent = {**base, "seed": seed_from_key(key)} if endpoint.supports_seed else base
                    units.setdefault(
                        key,
                        GenerationUnit(
                            job=job,
                            prompt_id=prompt_id,
                            endpoint=endpoint,
                            sample_index=sample,
                            params=sent,
                            key=key,
                        ),
                    )
    GenerationUnit.objects.bulk_create(units.values(), batch_size=1000)
    JobPrompt.objects.bulk_create(
        [JobPrompt(job=job, prompt_id=p) for p in prompt_ids], batch_size=1000
    )
    job.units_total = len(units)
    job.save(update_fields=["units_total", "updated_at"])
    if enqueue:
        _enqueue_after_commit(job_id=job.pk)
    return job


def default_pairing(*, project: Project) -> str:
    if project.mode == Project.Mode.RANKING:
        return GenerationJob.Pairing.K_WAY
    return GenerationJob.Pairing.ALL_PAIRS


def _enqueue_after_commit(*, job_id: int, unit_ids: list[int] | None = None) -> None:
    from .tasks import enqueue_units

    def enqueue() -> None:
        ids = unit_ids
        if ids is None:
            ids = list(
                GenerationUnit.objects.filter(job_id=job_id, status=Status.QUEUED)
                .order_by("id")
                .values_list("pk", flat=True)
            )
        enqueue_units(ids)

    transaction.on_commit(enqueue)


@transaction.atomic
def cancel_job(*, job: GenerationJob) -> int:
    """Cancel every unit not yet started; running ones finish. Returns how many were cancelled."""
    cancelled = GenerationUnit.objects.filter(job=job, status=Status.QUEUED).update(
        status=Status.CANCELLED, finished_at=timezone.now(), lease_expires_at=None
    )
    GenerationJob.objects.filter(
        pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(status=JobStatus.CANCELLED, updated_at=timezone.now())
    transaction.on_commit(lambda: finish_job_if_complete(job_id=job.pk))
    return cancelled


@transaction.atomic
def retry_failed_units(*, job: GenerationJob) -> int:
    """Queue the failed units of a job again; only those. Returns how many."""
    failed = list(
        GenerationUnit.objects.select_for_update()
        .filter(job=job, status=Status.FAILED)
        .values_list("pk", "prompt_id")
    )
    if not failed:
        return 0
    ids = [pk for pk, _ in failed]
    GenerationUnit.objects.filter(pk__in=ids).update(
        status=Status.QUEUED, attempts=0, error="", error_status=None, finished_at=None
    )
    JobPrompt.objects.filter(job=job, prompt_id__in={p for _, p in failed}).update(paired_at=None)
    GenerationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, finished_at=None, updated_at=timezone.now()
    )
    _enqueue_after_commit(job_id=job.pk, unit_ids=ids)
    return len(ids)


# Running one unit ----------------------------------------------------------------------------


@dataclass
class UnitOutcome:
    """What became of one execution. `retry`: a retryable error; `busy`: try again soon."""

    kind: str  # done | failed | retry | busy | skipped
    attempt: int = 0
    retry_after: float | None = None
    wait: float = 0.0
    message: str = ""
    extra: dict = field(default_factory=dict)


def _lease(endpoint: ModelEndpoint, now: datetime) -> datetime:
    seconds = (
        settings.GENERATION_SLOT_WAIT_SECONDS
        + endpoint.timeout_seconds
        + settings.GENERATION_LEASE_MARGIN_SECONDS
    )
    return now + timedelta(seconds=seconds)


def claim_unit(*, unit_id: int) -> GenerationUnit | None:
    """Take a queued unit, or a running one whose lease ran out (its worker died).

    Returns the unit, counted as one more attempt, or None if someone else has it.
    """
    unit = (
        GenerationUnit.objects.select_related("endpoint", "prompt", "job__project")
        .filter(pk=unit_id)
        .first()
    )
    if unit is None:
        return None
    now = timezone.now()
    claimed = (
        GenerationUnit.objects.filter(pk=unit_id)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, lease_expires_at__lt=now))
        .update(
            status=Status.RUNNING,
            attempts=F("attempts") + 1,
            lease_expires_at=_lease(unit.endpoint, now),
            started_at=now,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    if unit.job.status == JobStatus.QUEUED:
        GenerationJob.objects.filter(pk=unit.job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now, updated_at=now
        )
    unit.status, unit.attempts, unit.started_at = Status.RUNNING, unit.attempts + 1, now
    return unit


def execute_unit(*, unit_id: int, max_attempts: int) -> UnitOutcome:
    """Claim a unit, call its endpoint under the endpoint's concurrency limit, store the result."""
    unit = claim_unit(unit_id=unit_id)
    if unit is None:
        unit = GenerationUnit.objects.filter(pk=unit_id).first()
        if unit is not None and unit.status == Status.RUNNING and unit.lease_expires_at:
            # Someone holds it, or held it and died: look again when the lease ends.
            left = (unit.lease_expires_at - timezone.now()).total_seconds()
            return UnitOutcome("busy", wait=max(0.5, left + 0.5))
        return UnitOutcome("skipped")
    attempt = unit.attempts
    existing = Candidate.objects.filter(generation_key=unit.key).first()
    if existing is not None:  # made before: by an earlier run, or an execution that died late
        _store_done(unit=unit, candidate=existing, completion=None)
        _screen(candidate=existing, project=unit.job.project)
        return UnitOutcome("done", attempt=attempt)
    endpoint = unit.endpoint
    with limiter.endpoint_slot(
        endpoint_id=endpoint.pk,
        limit=endpoint.max_concurrency,
        lease_seconds=endpoint.timeout_seconds + settings.GENERATION_LEASE_MARGIN_SECONDS,
        wait_seconds=settings.GENERATION_SLOT_WAIT_SECONDS,
    ) as got_slot:
        if not got_slot:  # put it back; waiting for a slot is not an attempt
            GenerationUnit.objects.filter(pk=unit.pk, status=Status.RUNNING).update(
                status=Status.QUEUED, attempts=F("attempts") - 1, lease_expires_at=None
            )
            return UnitOutcome("busy", wait=1.0)
        try:
            completion = backends.complete(
                endpoint=endpoint, messages=unit.prompt.messages, params=unit.params
            )
        except backends.GenerationError as exc:
            return _store_error(unit=unit, exc=exc, attempt=attempt, max_attempts=max_attempts)
    candidate = _store_done(unit=unit, candidate=None, completion=completion, attempt=attempt)
    _screen(candidate=candidate, project=unit.job.project)
    return UnitOutcome("done", attempt=attempt, extra={"candidate": candidate.pk})


def _screen(*, candidate: Candidate, project: Project) -> None:
    from .screening import screen_after_generation

    screen_after_generation(candidate=candidate, project=project)


def _provenance(*, unit: GenerationUnit, completion: backends.Completion, attempt: int) -> dict:
    endpoint = unit.endpoint
    return {
        "generation": {
            "job": unit.job_id,
            "unit": unit.pk,
            "unit_key": unit.key,
            "attempt": attempt,
            "endpoint": {
                "id": endpoint.pk,
                "name": endpoint.name,
                "kind": endpoint.kind,
                "base_url": endpoint.base_url,
            },
            "model_requested": unit.params.get("model", ""),
            "model": completion.model,
            "params": unit.params,
            "seed": unit.params.get("seed"),
            "system_prompt": unit.params.get("system_prompt", ""),
            "sample_index": unit.sample_index,
            "finish_reason": completion.finish_reason,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "latency_ms": completion.latency_ms,
            "response_id": completion.raw_id,
            "generated_at": timezone.now().isoformat(),
            **completion.extra,
        }
    }


def _store_done(
    *,
    unit: GenerationUnit,
    candidate: Candidate | None,
    completion: backends.Completion | None,
    attempt: int = 0,
) -> Candidate:
    # Two single-statement writes, no transaction: if the worker dies between them, the unit
    # runs again, finds the candidate by its key and only marks itself done.
    if candidate is None:
        assert completion is not None
        try:
            with transaction.atomic(savepoint=transaction.get_connection().in_atomic_block):
                candidate = Candidate.objects.create(
                    generation_key=unit.key,
                    prompt_id=unit.prompt_id,
                    text=completion.text,
                    model_name=completion.model[:200],
                    metadata=_provenance(unit=unit, completion=completion, attempt=attempt),
                )
        except IntegrityError:  # another execution of the same unit stored it first
            candidate = Candidate.objects.get(generation_key=unit.key)
    meta = (candidate.metadata or {}).get("generation", {})
    now = timezone.now()
    GenerationUnit.objects.filter(pk=unit.pk).update(
        status=Status.DONE,
        candidate=candidate,
        prompt_tokens=meta.get("prompt_tokens", 0),
        completion_tokens=meta.get("completion_tokens", 0),
        latency_ms=meta.get("latency_ms"),
        error="",
        error_status=None,
        lease_expires_at=None,
        finished_at=now,
        updated_at=now,
    )
    after_unit_final(job_id=unit.job_id, prompt_id=unit.prompt_id, job=unit.job)
    return candidate


def _store_error(
    *, unit: GenerationUnit, exc: backends.GenerationError, attempt: int, max_attempts: int
) -> UnitOutcome:
    message = exc.message[:500]
    now = timezone.now()
    if exc.retryable and attempt < max_attempts:
        GenerationUnit.objects.filter(pk=unit.pk, status=Status.RUNNING).update(
            status=Status.QUEUED,
            error=message,
            error_status=exc.status,
            lease_expires_at=None,
            updated_at=now,
        )
        log.info("unit %s attempt %s will be retried: %s", unit.pk, attempt, message)
        return UnitOutcome("retry", attempt=attempt, retry_after=exc.retry_after, message=message)
    GenerationUnit.objects.filter(pk=unit.pk).update(
        status=Status.FAILED,
        error=message,
        error_status=exc.status,
        lease_expires_at=None,
        finished_at=now,
        updated_at=now,
    )
    log.warning("unit %s failed after %s attempt(s): %s", unit.pk, attempt, message)
    after_unit_final(job_id=unit.job_id, prompt_id=unit.prompt_id, job=unit.job)
    return UnitOutcome("failed", attempt=attempt, message=message)


def fail_unit(*, unit_id: int, message: str) -> None:
    """Give up on a unit that could not be run (e.g. it was put back too many times)."""
    unit = (
        GenerationUnit.objects.filter(pk=unit_id).exclude(status__in=GenerationUnit.FINAL).first()
    )
    if unit is None:
        return
    GenerationUnit.objects.filter(pk=unit_id).exclude(status__in=GenerationUnit.FINAL).update(
        status=Status.FAILED, error=message[:500], finished_at=timezone.now(), lease_expires_at=None
    )
    after_unit_final(job_id=unit.job_id, prompt_id=unit.prompt_id)


# Items and the end of a job ------------------------------------------------------------------


def after_unit_final(*, job_id: int, prompt_id: int, job: GenerationJob | None = None) -> None:
    """Build the prompt's items if all its units are final; finish the job if all are."""
    settle_prompt(job_id=job_id, prompt_id=prompt_id, job=job)
    finish_job_if_complete(job_id=job_id)


def settle_prompt(*, job_id: int, prompt_id: int, job: GenerationJob | None = None) -> int:
    """Build a prompt's items once all of its units in the job are final (once, by one worker)."""
    open_units = GenerationUnit.objects.filter(job_id=job_id, prompt_id=prompt_id).exclude(
        status__in=GenerationUnit.FINAL
    )
    if open_units.exists():
        return 0
    with transaction.atomic():
        claimed = JobPrompt.objects.filter(
            job_id=job_id, prompt_id=prompt_id, paired_at__isnull=True
        ).update(paired_at=timezone.now())
        if not claimed:
            return 0
        if job is None:
            job = GenerationJob.objects.select_related("project").get(pk=job_id)
        made = build_items(job=job, prompt_id=prompt_id)
        if made:
            JobPrompt.objects.filter(job_id=job_id, prompt_id=prompt_id).update(
                items_created=F("items_created") + made
            )
            GenerationJob.objects.filter(pk=job_id).update(items_created=F("items_created") + made)
    return made


def build_items(*, job: GenerationJob, prompt_id: int, rng: random.Random | None = None) -> int:
    """Items for one prompt from the candidates the job made, by the job's pairing strategy."""
    units = (
        GenerationUnit.objects.filter(
            job=job, prompt_id=prompt_id, status=Status.DONE, candidate__isnull=False
        )
        .select_related("candidate")
        .order_by("candidate_id")
    )
    choices = [
        pairing.Choice(
            id=u.candidate_id,
            group=f"{u.endpoint_id}:{u.candidate.model_name}",
            text=u.candidate.text,
        )
        for u in units
    ]
    existing: dict[int, set[int]] = {}
    for item_id, candidate_id in ItemCandidate.objects.filter(
        item__prompt_id=prompt_id
    ).values_list("item_id", "candidate_id"):
        existing.setdefault(item_id, set()).add(candidate_id)
    mine = {c.id for c in choices}
    existing_sets = {frozenset(s) for s in existing.values() if s <= mine}
    plan = pairing.plan_items(
        choices=choices,
        strategy=job.pairing,
        existing=existing_sets,
        n=job.pairs_per_prompt,
        max_size=job.project.max_candidates,
        rng=rng,
    )
    if plan:
        _create_items(project=job.project, groups=[(prompt_id, order) for order in plan])
    return len(plan)


def _create_items(*, project: Project, groups: list[tuple[int, list[int]]]) -> None:
    # The judging side's item factory files items into the project's queue with their slots;
    # they take on harm bits their candidates got from screening before they were paired.
    from .screening import carry_harm

    carry_harm(project=project, items=create_items(project=project, groups=groups))


def finish_job_if_complete(*, job_id: int) -> bool:
    """Mark the job done once no unit is queued or running (settling any prompt left over)."""
    units = GenerationUnit.objects.filter(job_id=job_id)
    if units.filter(status__in=[Status.QUEUED, Status.RUNNING]).exists():
        return False
    for prompt_id in JobPrompt.objects.filter(job_id=job_id, paired_at__isnull=True).values_list(
        "prompt_id", flat=True
    ):
        settle_prompt(job_id=job_id, prompt_id=prompt_id)
    now = timezone.now()
    GenerationJob.objects.filter(
        pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(status=JobStatus.DONE, finished_at=now, updated_at=now)
    GenerationJob.objects.filter(
        pk=job_id, status=JobStatus.CANCELLED, finished_at__isnull=True
    ).update(finished_at=now, updated_at=now)
    return True


def run_job_inline(*, job: GenerationJob, max_attempts: int = 3) -> GenerationJob:
    """Run a job's queued units in this process, one by one (no worker needed)."""
    import time

    for _ in range(max_attempts + 2):
        ids = list(
            GenerationUnit.objects.filter(job=job, status=Status.QUEUED).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            break
        for unit_id in ids:
            outcome = execute_unit(unit_id=unit_id, max_attempts=max_attempts)
            if outcome.kind in ("retry", "busy"):
                time.sleep(min(5.0, outcome.retry_after or 1.0))
    finish_job_if_complete(job_id=job.pk)
    job.refresh_from_db()
    return job


# Progress ------------------------------------------------------------------------------------


@dataclass
class JobProgress:
    total: int
    done: int
    failed: int
    running: int
    queued: int
    cancelled: int
    prompt_tokens: int
    completion_tokens: int
    elapsed: timedelta | None
    eta: timedelta | None
    errors: list[dict]
    is_final: bool

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def percent(self) -> int:
        return int(100 * self.finished / self.total) if self.total else 100

    @property
    def elapsed_text(self) -> str:
        return _duration(self.elapsed)

    @property
    def eta_text(self) -> str:
        return _duration(self.eta)


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def job_progress(*, job: GenerationJob) -> JobProgress:
    """Counts, tokens, timing and the latest errors (grouped by message) of a job."""
    by_status = dict(
        GenerationUnit.objects.filter(job=job).values_list("status").annotate(n=Count("id"))
    )
    tokens = GenerationUnit.objects.filter(job=job).aggregate(
        p=Sum("prompt_tokens"), c=Sum("completion_tokens")
    )
    errors = list(
        GenerationUnit.objects.filter(job=job)
        .exclude(error="")
        .values("error")
        .annotate(n=Count("id"), last=Max("updated_at"))
        .order_by("-last")[:5]
    )
    done, failed = by_status.get(Status.DONE, 0), by_status.get(Status.FAILED, 0)
    running, queued = by_status.get(Status.RUNNING, 0), by_status.get(Status.QUEUED, 0)
    cancelled = by_status.get(Status.CANCELLED, 0)
    total = sum(by_status.values())
    elapsed = eta = None
    if job.started_at:
        elapsed = (job.finished_at or timezone.now()) - job.started_at
        finished = done + failed
        if finished and (queued or running) and job.status != JobStatus.CANCELLED:
            eta = elapsed / finished * (queued + running)
    is_final = job.status in (JobStatus.DONE, JobStatus.CANCELLED) and not running and not queued
    return JobProgress(
        total=total,
        done=done,
        failed=failed,
        running=running,
        queued=queued,
        cancelled=cancelled,
        prompt_tokens=tokens["p"] or 0,
        completion_tokens=tokens["c"] or 0,
        elapsed=elapsed,
        eta=eta,
        errors=errors,
        is_final=is_final,
    )
