"""Leads see each trainer's exposure to harmful items on Queues & trainers."""

import re
from datetime import timedelta

from django.urls import reverse

from labeling.judging import services
from labeling.judging.models import Assignment, Item
from labeling.projects.taxonomy import HARM_BITS
from tests.factories import PASSWORD, make_item


def exposure(html: str, username: str) -> tuple[str, str]:
    row = re.search(rf'<tr data-trainer="{username}">(.*?)</tr>', html, re.S).group(1)
    today = re.search(r'data-exposure="today">(\d+)', row).group(1)
    total = re.search(r'data-exposure="total">(\d+)', row).group(1)
    return today, total


def claim_and_skip(trainer, project) -> Assignment:
    a = services.claim_next(trainer=trainer, project=project)
    services.skip_assignment(trainer=trainer, assignment=a, reason="not now")
    return a


def test_harmful_items_seen_today_and_in_total_per_trainer(
    client, project, lead, trainer, other_trainer
):
    project.harm_exposure_cap = 5
    project.save()
    trainer.harm_opt_ins = ["violence"]
    trainer.save()
    harmful = [make_item(project, prompt=f"harmful {i}") for i in range(2)]
    Item.objects.filter(pk__in=[i.pk for i in harmful]).update(harm_mask=HARM_BITS["violence"])
    yesterday, today = claim_and_skip(trainer, project), claim_and_skip(trainer, project)
    assert {yesterday.item_id, today.item_id} == {i.pk for i in harmful}
    Assignment.objects.filter(pk=yesterday.pk).update(
        created_at=yesterday.created_at - timedelta(days=1)
    )
    make_item(project, prompt="harmless")
    assert services.claim_next(trainer=trainer, project=project) is not None  # not counted
    client.login(username=lead.username, password=PASSWORD)
    html = client.get(reverse("lead_queues", args=[project.slug])).content.decode()
    assert exposure(html, trainer.username) == ("1", "2")
    assert exposure(html, other_trainer.username) == ("0", "0")
    assert '1 <span class="muted">of 5</span>' in html
    assert services.harmful_today(trainer, project) == 1  # what the cap counts
