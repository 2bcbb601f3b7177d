"""A lead watches the dashboard move while three trainers label a k = 2 project with a gold
item, each in a browser of their own (the issue's "done when" scene).

Set SCREENSHOT_DIR to keep a screenshot of the dashboard before and after.
"""

import os
from pathlib import Path

import pytest
from django.utils import timezone

from labeling.judging import services
from labeling.judging.models import Assignment, Queue
from labeling.projects.models import Membership, Project
from labeling.projects.services import add_member
from tests.browser.conftest import login_as
from tests.conftest import accept_notices
from tests.factories import make_item, make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SCREENSHOT_DIR")


def label_until_done(page, url: str, slug: str) -> int:
    """Label from the keyboard (six scores, "A is better", Enter) until the queue is empty."""
    page.goto(f"{url}/p/{slug}/")
    page.get_by_role("button", name="Start labeling").click()
    for judged in range(10):
        page.wait_for_selector("#judgment-form, [data-testid=done]")
        if page.locator("[data-testid=done]").count():
            return judged
        page.wait_for_load_state("domcontentloaded")
        code = page.locator("#workspace").get_attribute("data-assignment")
        for key in "657324w":
            page.keyboard.press(key)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "code => !document.querySelector('#workspace')"
            " || document.querySelector('#workspace').dataset.assignment !== code",
            arg=code,
        )
    raise AssertionError("the queue did not run dry in 10 items")


def test_a_lead_watches_three_trainers_finish_a_k2_project_with_gold(
    browser, live_server, project, lead, trainer, other_trainer
):
    third = make_user("third_trainer", adult_confirmed_at=timezone.now())
    add_member(project=project, user=third, role=Membership.Role.TRAINER)
    # Every trainer meets the gold item first; nobody is paused for missing it.
    Project.objects.filter(pk=project.pk).update(overlap=2, gold_rate=1.0, gold_min_accuracy=0)
    Queue.objects.filter(project=project).update(overlap=2)
    accept_notices(project)
    items = [
        make_item(project, prompt=f"Question {n}?", responses=(f"first {n}", f"second {n}"))
        for n in range(4)
    ]
    gold = make_item(project, prompt="Is water wet?", responses=("Yes.", "Purple."))
    cids = list(gold.slots.values_list("candidate_id", flat=True))
    services.mark_gold(item=gold, answer={"preferred": cids[0]}, by=lead)

    url = live_server.url
    lead_page = login_as(browser, url, lead)
    lead_page.goto(f"{url}/p/{project.slug}/dashboard/")
    assert lead_page.locator("[data-testid=total-done]").inner_text() == "0"
    lead_page.evaluate("window.notReloaded = true")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        lead_page.screenshot(path=f"{SHOTS}/dashboard-before.png", full_page=True)

    judged = {}
    for person in (trainer, other_trainer, third):
        page = login_as(browser, url, person)
        judged[person.username] = label_until_done(page, url, project.slug)
        page.context.close()

    # Four items at k = 2 are eight judgments, plus the gold item once per trainer.
    assert sum(judged.values()) == 4 * 2 + 3
    for item in items:
        item.refresh_from_db()
        assert item.n_judgments == 2
    assert Assignment.objects.filter(item=gold, judgment__isnull=False).count() == 3

    # The dashboard refreshes itself (htmx, every 5 s): no reload, the numbers move.
    # (Wait for the refresh that shows every judgment: the last trainer met only the gold
    # item, after the others had finished the four.)
    lead_page.wait_for_function(
        """total => document.querySelector('[data-testid=total-done]').innerText === '4'
        && [...document.querySelectorAll('[data-testid=trainers] [data-testid=total]')]
            .reduce((sum, cell) => sum + Number(cell.innerText), 0) === total""",
        arg=sum(judged.values()),
        timeout=15_000,
    )
    assert lead_page.evaluate("window.notReloaded") is True
    rows = lead_page.locator("[data-testid=trainers] tbody tr")
    assert rows.count() == 3
    gold_cells = lead_page.locator("[data-testid=trainers] [data-testid=gold]").all_inner_texts()
    assert all("/1)" in cell for cell in gold_cells), gold_cells
    totals = lead_page.locator("[data-testid=trainers] [data-testid=total]").all_inner_texts()
    assert sorted(int(t) for t in totals) == sorted(judged.values())
    if SHOTS:
        lead_page.screenshot(path=f"{SHOTS}/dashboard-after.png", full_page=True)
    assert lead_page.console_errors == []
    lead_page.context.close()
