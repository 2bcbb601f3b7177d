"""The demo's generated candidates: a shared embedded-model endpoint and prompts for it."""

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.projects.models import Project, Prompt

from .models import GenerationJob, ModelEndpoint
from .services import run_job_inline, start_generation_job

EMBEDDED_NAME = "Embedded SmolLM2-135M (local)"


@transaction.atomic
def ensure_demo_generation(*, project: Project, prompts: list[str]) -> ModelEndpoint:
    """The shared embedded endpoint, and the demo prompts that wait for generation."""
    endpoint, _ = ModelEndpoint.objects.get_or_create(
        project=None,
        name=EMBEDDED_NAME,
        defaults={
            "kind": ModelEndpoint.Kind.LOCAL,
            "system_prompt": "You are a helpful assistant. Answer in one or two sentences.",
            "temperature": 0.9,
            "top_p": 0.95,
            "max_tokens": 48,
            "timeout_seconds": 120,
            "max_concurrency": 1,
        },
    )
    for n, text in enumerate(prompts):
        Prompt.objects.get_or_create(
            project=project,
            external_id=f"demo-generate-{n}",
            defaults={
                "messages": [{"role": "user", "content": text}],
                "metadata": {"demo": True, "generated": True},
            },
        )
    return endpoint


def start_demo_job(
    *, project: Project, endpoint: ModelEndpoint, by, inline: bool
) -> GenerationJob | None:
    """Generate two samples per demo prompt still without candidates (none left: no job)."""
    try:
        job = start_generation_job(
            project=project,
            by=by,
            endpoints=[endpoint],
            selection=GenerationJob.Selection.WITHOUT_CANDIDATES,
            samples_per_endpoint=2,
            pairing_strategy=GenerationJob.Pairing.ALL_PAIRS,
            enqueue=not inline,
        )
    except ValidationError:
        return None
    return run_job_inline(job=job) if inline else job
