"""Gold items: marked by a lead, mixed in at the rate, invisible, scored, pausing, qualifying."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling.judging import dashboard, services
from labeling.judging.models import Assignment, Item, Notice
from labeling.projects.models import Membership
from tests.factories import PASSWORD, make_item

from .helpers import answer_for

JUDGE = services.JudgmentInput


def login(client, user):
    client.login(username=user.username, password=PASSWORD)
    return client


def make_gold(project, *, prompt="Which is right?", explanation="", tolerance=0):
    item = make_item(project, prompt=prompt, responses=("Right answer.", "Wrong answer."))
    right = item.slots.get(slot=0).candidate_id
    services.mark_gold(
        item=item,
        answer={"preferred": right, "tolerance": tolerance, "explanation": explanation},
        by=None,
    )
    return item, right


def set_project(project, **values):
    for name, value in values.items():
        setattr(project, name, value)
    project.save()


def start(client, project) -> Assignment:
    response = client.post(reverse("work_next", args=[project.slug]))
    assert response.status_code == 302, response.content[:500]
    return Assignment.objects.get(code=response.url.rstrip("/").split("/")[-1])


def test_a_lead_marks_an_item_gold_on_its_page(client, project, lead):
    item = make_item(project)
    a, b = item.slots.values_list("candidate_id", flat=True)
    response = login(client, lead).post(
        reverse("lead_item_gold", args=[project.slug, item.pk]),
        {
            "preferred": str(b),
            "tolerance": "1",
            "flags": [f"{a}:factual_error"],
            "explanation": "Section 2: facts first.",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.is_gold
    assert item.gold_answer == {
        "preferred": b,
        "tolerance": 1,
        "flags": [[a, "factual_error"]],
        "explanation": "Section 2: facts first.",
    }
    assert item.open_slots == 0  # out of the normal queue
    html = client.get(reverse("lead_item", args=[project.slug, item.pk])).content.decode()
    assert "B is better" in html and "A · factual_error" in html


def test_an_unknown_candidate_is_refused_as_gold_answer(client, project, lead):
    item = make_item(project)
    response = login(client, lead).post(
        reverse("lead_item_gold", args=[project.slug, item.pk]),
        {"preferred": "999999", "tolerance": "0"},
    )
    assert response.status_code == 422
    item.refresh_from_db()
    assert not item.is_gold


def test_unmarking_gives_the_item_back_its_slots(client, project, lead):
    item, _ = make_gold(project)
    login(client, lead).post(
        reverse("lead_item_gold", args=[project.slug, item.pk]), {"action": "unmark"}
    )
    item.refresh_from_db()
    assert not item.is_gold and item.gold_answer is None
    assert item.open_slots == item.queue.overlap


@pytest.mark.slow
def test_gold_is_mixed_in_at_the_configured_rate(project, trainer):
    set_project(project, gold_rate=0.25, gold_min_accuracy=0.0)
    for i in range(70):
        make_gold(project, prompt=f"gold {i}")
    for i in range(200):
        make_item(project, prompt=f"item {i}")
    claims = 160
    gold = 0
    for _ in range(claims):
        a = services.claim_next(trainer=trainer, project=project)
        gold += a.item.is_gold
        services.submit_judgment(trainer=trainer, assignment=a, answer=JUDGE(strength=0))
    # Expected 40 (sd about 5.5): generous bounds, so the test never flakes.
    assert 18 <= gold <= 64


def test_gold_is_never_counted_toward_overlap_or_progress(project, trainer, other_trainer):
    set_project(project, gold_rate=1.0)
    gold, right = make_gold(project)
    for t in (trainer, other_trainer):
        a = services.claim_next(trainer=t, project=project)
        assert a.item == gold
        services.submit_judgment(
            trainer=t, assignment=a, answer=JUDGE(preferred_id=right, strength=1)
        )
    gold.refresh_from_db()
    assert (gold.n_judgments, gold.n_leases, gold.open_slots) == (0, 0, 0)
    (queue,) = dashboard.queue_rows(project, timezone.now())
    assert (queue.items, queue.judgments) == (0, 0)


class Shape(HTMLParser):
    """The page's structure: tags and attributes, with ids, codes and numbers blanked."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple((k, _blank(v)) for k, v in attrs)))


def _blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "U", value)
    value = re.sub(r"\b[A-Za-z0-9]{64}\b", "CSRF", value)  # masked afresh on every render
    return re.sub(r"\d+", "0", value)


def _shape(html: str) -> list[tuple]:
    parser = Shape()
    parser.feed(html)
    return parser.tags


def test_a_gold_item_looks_exactly_like_any_other(client, project, trainer):
    set_project(project, gold_rate=1.0)
    make_gold(project, prompt="Which city?")
    make_item(project, prompt="Which river?", responses=("Right answer.", "Wrong answer."))
    login(client, trainer)
    first = start(client, project)
    assert first.item.is_gold
    gold_url = reverse("assignment", args=[first.code])
    gold_html = client.get(gold_url).content.decode()
    client.post(reverse("assignment_submit", args=[first.code]), answer_for(first, winner=None))
    second = start(client, project)
    assert not second.item.is_gold
    normal_url = reverse("assignment", args=[second.code])
    normal_html = client.get(normal_url).content.decode()

    assert "gold" not in gold_html.lower()
    assert _blank(gold_url) == _blank(normal_url)  # same URL shape: /a/<uuid>/
    # Identical structure once ids, codes and counters are blanked; only texts differ.
    assert _shape(gold_html) == _shape(normal_html)
    assert "Which city?" in gold_html and "Which river?" in normal_html


def test_a_trainer_below_the_gold_threshold_is_paused_and_the_lead_told(
    client, project, trainer, lead
):
    set_project(project, gold_rate=1.0, gold_window=3, gold_min_accuracy=0.7)
    for i in range(3):
        make_gold(project, prompt=f"gold {i}")
    make_item(project, prompt="ordinary")
    login(client, trainer)
    for _ in range(3):
        a = start(client, project)
        wrong = a.item.slots.get(slot=1).candidate_id
        response = client.post(
            reverse("assignment_submit", args=[a.code]), answer_for(a, winner=wrong)
        )
        assert response.status_code in (200, 303)
    membership = Membership.objects.get(project=project, user=trainer)
    assert membership.is_paused
    assert "gold accuracy 0%" in membership.paused_reason
    assert services.claim_next(trainer=trainer, project=project) is None
    html = client.get(reverse("work_next", args=[project.slug])).content.decode()
    assert "paused" in html
    assert Notice.objects.filter(project=project, text__contains="trainer was paused").exists()

    login(client, lead)
    board = client.get(reverse("lead_dashboard", args=[project.slug])).content.decode()
    assert "trainer was paused" in board
    assert "0/3" in board  # gold accuracy on the trainer's row
    # The lead lets them work again from the queues page.
    client.post(
        reverse("lead_trainer_update", args=[project.slug, membership.pk]),
        {f"t{membership.pk}-daily_cap": "", f"t{membership.pk}-is_paused": ""},
    )
    membership.refresh_from_db()
    assert not membership.is_paused and membership.paused_reason == ""


def test_a_qualification_opens_the_queue_after_enough_right_answers(project, trainer):
    set_project(project, gold_rate=0.0, qualification_size=2, qualification_pass=2)
    golds = dict(make_gold(project, prompt=f"q{i}") for i in range(2))
    normal = make_item(project, prompt="the real work")
    for _ in range(2):
        a = services.claim_next(trainer=trainer, project=project)
        assert a.item.is_gold  # the normal queue stays closed meanwhile
        services.submit_judgment(
            trainer=trainer,
            assignment=a,
            answer=JUDGE(preferred_id=golds[a.item], strength=2),
        )
    membership = Membership.objects.get(project=project, user=trainer)
    assert membership.qualified_at is not None
    assert services.claim_next(trainer=trainer, project=project).item == normal


def test_failing_the_qualification_shows_the_expected_answers(client, project, trainer):
    set_project(project, gold_rate=0.0, qualification_size=2, qualification_pass=2)
    for i in range(2):
        make_gold(project, prompt=f"qualifier {i}", explanation="Guideline 3: prefer the truth.")
    make_item(project, prompt="the real work")
    login(client, trainer)
    for _ in range(2):
        a = start(client, project)
        wrong = a.item.slots.get(slot=1).candidate_id
        client.post(reverse("assignment_submit", args=[a.code]), answer_for(a, winner=wrong))
    assert Membership.objects.get(project=project, user=trainer).qualification_failed_at
    html = client.get(reverse("work_next", args=[project.slug])).content.decode()
    assert "did not pass" in html
    assert "Expected: <em>Right answer.</em>" in html
    assert "Guideline 3: prefer the truth." in html
    assert (
        not Item.objects.filter(prompt__messages__0__content="the real work")
        .exclude(n_leases=0)
        .exists()
    )
