"""Harmful responses stay hidden until the trainer reveals them, and the reveal is logged."""

import pytest

from labeling.core.models import AuditEvent
from labeling.judging import services
from tests.factories import make_item

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_flagged_content_is_hidden_until_revealed_by_key_and_the_reveal_is_logged(
    page, login, project, trainer, other_trainer
):
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    make_item(project, responses=("a calm answer", "a violent answer"))
    first = services.claim_next(trainer=other_trainer, project=project)
    violent = next(c for c in first.item.candidates.all() if "violent" in c.text)
    services.submit_judgment(
        trainer=other_trainer,
        assignment=first,
        answer=services.JudgmentInput(
            preferred_id=[c for c in first.display_order if c != violent.pk][0],
            strength=3,
            flags={(violent.pk, "violence")},
        ),
    )
    trainer.harm_opt_ins = ["violence"]
    trainer.save()

    login(trainer)
    page.locator("button:has-text('Start labeling')").click()
    page.wait_for_selector("#judgment-form")
    hidden = page.get_by_text("a violent answer")
    calm = page.get_by_text("a calm answer")
    assert calm.is_visible()
    assert not hidden.is_visible()
    assert "Violence" in page.inner_text("details.content-warning summary")
    assert not AuditEvent.objects.filter(action="reveal").exists()

    index = int(page.locator(".response:has(details)").get_attribute("data-response"))
    for _ in range(index):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("o")
    hidden.wait_for(state="visible")
    for _ in range(50):
        if AuditEvent.objects.filter(action="reveal").exists():
            break
        page.wait_for_timeout(100)
    event = AuditEvent.objects.get(action="reveal")
    assert event.actor == trainer
    assert event.details["candidate"] == violent.pk
    assert page.console_errors == []
