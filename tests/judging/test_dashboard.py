"""The lead's dashboard: its numbers against a hand-built project, and its query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from labeling.judging import dashboard, rollups, services
from labeling.judging.models import Judgment, Queue
from labeling.projects.models import Membership
from tests.conftest import accept_notices
from tests.factories import PASSWORD, make_item, make_user

JUDGE = services.JudgmentInput


def gold_item(project, *, prompt="Gold?", preferred_slot=0):
    item = make_item(project, prompt=prompt)
    cids = list(item.slots.values_list("candidate_id", flat=True))
    services.mark_gold(item=item, answer={"preferred": cids[preferred_slot]}, by=None)
    return item, cids


def judge(trainer, project, *, first: bool = True, same: bool = False, ms: int = 5000, flags=()):
    """Claim the next item and prefer the response shown first (or second, or neither)."""
    a = services.claim_next(trainer=trainer, project=project)
    assert a is not None
    if same:
        answer = JUDGE(strength=0, time_spent_ms=ms)
    else:
        winner = a.display_order[0 if first else 1]
        answer = JUDGE(preferred_id=winner, strength=2, time_spent_ms=ms)
    if flags:
        answer = JUDGE(
            preferred_id=answer.preferred_id,
            strength=answer.strength,
            time_spent_ms=ms,
            flags={(a.display_order[0], key) for key in flags},
            rationale="harmful",
        )
    return services.submit_judgment(trainer=trainer, assignment=a, answer=answer)


@pytest.fixture
def busy_project(project, trainer, other_trainer):
    """Five items at k = 2, two gold items, two trainers (see the test for the sums)."""
    services.set_queue_overlap(queue=services.default_queue(project), overlap=2)
    items = [make_item(project, prompt=f"normal {i}") for i in range(5)]
    gold_a, _ = gold_item(project, prompt="gold a")
    gold_b, _ = gold_item(project, prompt="gold b")

    # trainer: two gold items first (one right, one wrong) ...
    project.gold_rate = 1.0
    project.save()
    for _ in range(2):
        a = services.claim_next(trainer=trainer, project=project)
        expected = a.item.gold_answer["preferred"]
        other = next(c for c in a.display_order if c != expected)
        pick = expected if a.item == gold_a else other
        services.submit_judgment(
            trainer=trainer, assignment=a, answer=JUDGE(preferred_id=pick, strength=1)
        )
    project.gold_rate = 0.0
    project.save()
    # ... then items 0-3: 10, 20, 60, 40 s; a harm flag on item 3 (which hides it from
    # other_trainer, who did not opt in to harmful content).
    j0 = judge(trainer, project, first=True, ms=10_000)
    judge(trainer, project, first=True, ms=20_000)
    judge(trainer, project, first=False, ms=60_000)
    judge(trainer, project, first=True, ms=40_000, flags=["violence"])
    # One of trainer's judgments was two days ago: not today, not in the last hour.
    Judgment.objects.filter(pk=j0.pk).update(created_at=timezone.now() - timedelta(days=2))
    # Written behind the services' back: recompute the dashboard's rollups from the rows.
    rollups.rebuild_rollups(project=project)
    # other_trainer: item 0 "about the same" (30 s), skips item 1, holds item 2.
    judge(other_trainer, project, same=True, ms=30_000)
    a = services.claim_next(trainer=other_trainer, project=project)
    assert a.item == items[1]
    services.skip_assignment(trainer=other_trainer, assignment=a, reason="unclear")
    held = services.claim_next(trainer=other_trainer, project=project)
    assert held.item == items[2]
    return project


def test_the_numbers_match_a_hand_built_project(busy_project, trainer, other_trainer):
    board = dashboard.project_dashboard(busy_project)

    (main,) = board.queues
    # item 0 done; 1 and 3 have one judgment; 2 has one and a lease; 4 untouched.
    # The two gold items are not in the progress counts.
    assert (main.items, main.done, main.in_progress, main.remaining) == (5, 1, 3, 1)
    assert main.judgments == 5  # trainer 4, other_trainer 1
    assert main.judgments_left == 0 + 1 + 1 + 1 + 2
    assert main.per_hour == 4  # trainer's items 1, 2 and 3, other_trainer's item 0
    assert main.eta_hours == pytest.approx(5 / 4)

    rows = {r.user.username: r for r in board.trainers}
    t, o = rows["trainer"], rows["other_trainer"]
    assert (t.today, t.total) == (5, 6)  # 2 gold + 4 items, one of them two days ago
    assert t.median_seconds == pytest.approx(15.0)  # 0, 0 (gold), 10, 20, 40, 60 s
    assert t.skip_rate == 0
    assert (t.gold_correct, t.gold_answered, t.gold_accuracy) == (1, 2, 0.5)
    assert t.pairs_with_winner == 6
    assert t.flags == 1
    assert (o.today, o.total, o.median_seconds) == (1, 1, pytest.approx(30.0))
    assert o.skip_rate == pytest.approx(0.5)
    assert o.gold_accuracy is None
    assert o.position_bias is None  # "about the same" has no winner
    assert o.open_leases == 1

    (flagged,) = board.harmful
    assert flagged.keys == {"violence": 1}
    assert flagged.prompt == "normal 3"
    assert sum(b.count for b in board.chart.bars) == 6  # 2 gold + 3 items + 1, within 24 h
    assert len(board.chart.bars) == 24


def test_position_bias_is_the_share_won_by_the_first_shown_response(project, trainer):
    project.gold_rate = 0
    project.save()
    for i in range(4):
        make_item(project, prompt=f"p{i}")
    for first in (True, True, True, False):
        judge(trainer, project, first=first)
    (row,) = [r for r in dashboard.trainer_rows(project, timezone.now()) if r.user == trainer]
    assert row.position_bias == pytest.approx(0.75)


def test_the_page_shows_the_numbers(client, busy_project, lead):
    client.login(username=lead.username, password=PASSWORD)
    html = client.get(reverse("lead_dashboard", args=[busy_project.slug])).content.decode()
    assert 'data-trainer="trainer"' in html
    assert "1/2" in html  # gold accuracy
    assert "50%" in html  # other_trainer's skip rate and trainer's gold accuracy
    assert "violence × 1" in html
    assert 'hx-trigger="every 5s"' in html
    assert "<svg" in html and 'class="bar"' in html


def test_htmx_refresh_renders_only_the_live_fragment(client, busy_project, lead):
    client.login(username=lead.username, password=PASSWORD)
    response = client.get(
        reverse("lead_dashboard", args=[busy_project.slug]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="live"')
    assert "<html" not in html and "lead-nav" not in html


def _page_queries(client, project) -> int:
    url = reverse("lead_dashboard", args=[project.slug])
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
    return len(ctx.captured_queries)


def test_the_query_count_does_not_grow_with_trainers_queues_or_judgments(
    client, busy_project, lead, django_assert_max_num_queries
):
    client.login(username=lead.username, password=PASSWORD)
    before = _page_queries(client, busy_project)
    # Five more trainers, a second queue with its own items, and many more judgments.
    extra = Queue.objects.create(project=busy_project, name="Red team", priority=5, overlap=1)
    for i in range(6):
        make_item(busy_project, prompt=f"red {i}", queue=extra)
    for i in range(5):
        u = make_user(f"extra{i}", adult_confirmed_at=timezone.now())
        Membership.objects.create(project=busy_project, user=u, role="trainer")
        judge(u, busy_project, flags=["hate"] if i % 2 else ())
    accept_notices(busy_project)
    assert _page_queries(client, busy_project) == before
    # session + user + membership, then the selectors: a small fixed number.
    with django_assert_max_num_queries(16):
        client.get(reverse("lead_dashboard", args=[busy_project.slug]))


def test_only_leads_see_the_dashboard(client, project, trainer, researcher):
    url = reverse("lead_dashboard", args=[project.slug])
    for user in (trainer, researcher):
        client.login(username=user.username, password=PASSWORD)
        assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code in (302, 404)
