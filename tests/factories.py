"""Small factory functions for the rows tests need."""

from labeling.accounts.models import User
from labeling.judging.models import Item
from labeling.judging.services import create_items
from labeling.projects.models import Candidate, Project, Prompt

PASSWORD = "a-test-password-1"


def make_user(username: str, **extra) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, **extra)


def make_item(
    project: Project,
    *,
    prompt: str | list[dict] = "What colour is the sky?",
    responses: tuple[str, ...] = ("It is blue.", "It is green."),
    models: tuple[str, ...] | None = None,
    priority: int = 0,
    external_id: str | None = None,
    queue=None,
) -> Item:
    """A prompt with its candidates and one item holding all of them."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    p = Prompt.objects.create(project=project, messages=messages, external_id=external_id)
    candidates = [
        Candidate.objects.create(
            prompt=p, text=text, model_name=models[slot] if models else f"model-{slot}"
        )
        for slot, text in enumerate(responses)
    ]
    (item,) = create_items(
        project=project, groups=[(p.pk, [c.pk for c in candidates])], queue=queue, priority=priority
    )
    return item
