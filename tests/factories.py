"""Small factory functions for the rows tests need."""

from labeling.accounts.models import User
from labeling.judging.models import Item, ItemCandidate
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
) -> Item:
    """A prompt with its candidates and one item holding all of them."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    p = Prompt.objects.create(project=project, messages=messages, external_id=external_id)
    item = Item.objects.create(project=project, prompt=p, priority=priority)
    for slot, text in enumerate(responses):
        model = models[slot] if models else f"model-{slot}"
        c = Candidate.objects.create(prompt=p, text=text, model_name=model)
        ItemCandidate.objects.create(item=item, candidate=c, slot=slot)
    return item
