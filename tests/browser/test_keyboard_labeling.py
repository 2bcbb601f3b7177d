"""A trainer labels three items with the keyboard only, in headless Chromium."""

import pytest

from labeling.judging.models import Assignment, Judgment
from labeling.projects.models import Membership
from tests.factories import make_item

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown_texts(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid=response-body]").all_inner_texts()]


def test_a_trainer_labels_three_items_with_the_keyboard_only(
    page, login, live_server, project, trainer
):
    items = [
        make_item(
            project, prompt=f"Question {n}?", responses=(f"first answer {n}", f"second answer {n}")
        )
        for n in range(3)
    ]
    Membership.objects.filter(user=trainer).update(notice_accepted_at=None)
    trainer.adult_confirmed_at = None
    trainer.save()
    login(trainer)
    page.locator("button:has-text('Start labeling')").focus()
    page.keyboard.press("Enter")
    # The first-item gate, by keyboard too: tick both statements, then start.
    page.wait_for_selector("[data-testid=content-notice]")
    page.locator("input[name=adult]").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#judgment-form")
    # label.js is deferred: its key handlers exist once the document has loaded, not as soon
    # as the form is in the DOM (a first key pressed earlier was lost under load in CI).
    page.wait_for_load_state("domcontentloaded")

    # For each item: six scores, an overall answer, a flag on item 2, then Enter.
    plans = [("w", "A", 2), ("u", "B", 3), ("r", None, 0)]
    seen = []
    for n, (key, side, strength) in enumerate(plans):
        page.wait_for_selector(f"text=Question {n}?")
        code = page.locator("#workspace").get_attribute("data-assignment")
        texts = shown_texts(page)
        seen.append((code, texts, side, strength))
        for digit in "657324":
            page.keyboard.press(digit)
        if n == 1:
            page.keyboard.press("l")  # factual error on the response under the cursor (B)
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        page.wait_for_function(
            "code => document.querySelector('#workspace').dataset.assignment !== code", arg=code
        )

    page.wait_for_selector("[data-testid=done]")
    assert page.locator("[data-testid=today]").inner_text() == "3"
    assert page.console_errors == []

    assert Judgment.objects.count() == 3
    for code, texts, side, strength in seen:
        assignment = Assignment.objects.get(code=code)
        judgment = assignment.judgment
        shown = [assignment.item.candidates.get(pk=cid).text for cid in judgment.shown_order]
        assert shown == texts, "the stored order is the order the browser showed"
        assert judgment.strength == strength
        if side is None:
            assert judgment.preferred is None
        else:
            expected_text = texts[0] if side == "A" else texts[1]
            assert judgment.preferred.text == expected_text
        scores = {
            (s.candidate_id, s.dimension.key): s.value
            for s in judgment.scores.select_related("dimension")
        }
        left, right = judgment.shown_order
        assert scores[(left, "helpfulness")] == 6 and scores[(left, "harmlessness")] == 7
        assert scores[(right, "helpfulness")] == 3 and scores[(right, "harmlessness")] == 4
        assert judgment.time_spent_ms > 0
    flagged = Judgment.objects.get(assignment__code=seen[1][0])
    assert list(flagged.flags.values_list("candidate_id", "key")) == [
        (flagged.shown_order[1], "factual_error")
    ]
    assert {a.item_id for a in Assignment.objects.all()} == {i.pk for i in items}


def test_a_validation_error_keeps_what_was_typed(page, login, project, trainer):
    make_item(project)
    login(trainer)
    page.locator("button:has-text('Start labeling')").click()
    page.wait_for_selector("#judgment-form")
    # label.js is deferred: its key handlers exist once the document has loaded, not as soon
    # as the form is in the DOM (a first key pressed earlier was lost under load in CI).
    page.wait_for_load_state("domcontentloaded")
    for digit in "555":
        page.keyboard.press(digit)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=errors]")
    assert "Score helpfulness for every response." in page.inner_text("[data-testid=errors]")
    checked = page.locator("input[type=radio]:checked").count()
    assert checked == 3
    assert Judgment.objects.count() == 0
