"""The lead's project pages: create, settings, members, and every member's overview."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from labeling.judging.models import Assignment, Item, Judgment
from labeling.projects.models import (
    Dimension,
    Flag,
    GuidelineRevision,
    Membership,
    Project,
    Prompt,
)
from labeling.projects.services import add_member, create_project
from labeling.projects.taxonomy import BASE_FLAGS, DEFAULT_DIMENSIONS
from tests.factories import make_item, make_user

# The overview links to routes other apps provide; placeholders stand in for any not there yet.
pytestmark = pytest.mark.urls("tests.projects.urls_with_work")

ALL_BASE_KEYS = [f.key for f in BASE_FLAGS]


def dimension_row(key: str, name: str, description: str = "", anchors=None, **extra) -> dict:
    anchors = anchors or {}
    return {
        "key": key,
        "name": name,
        "description": description,
        "anchor_1": anchors.get("1", ""),
        "anchor_4": anchors.get("4", ""),
        "anchor_7": anchors.get("7", ""),
        **extra,
    }


DEFAULT_ROWS = [dimension_row(**d) for d in DEFAULT_DIMENSIONS]


def dims(rows: list[dict], *, initial: int = 3, empty_rows: int = 1) -> dict:
    """The formset's POST data: the given rows, then untouched empty rows."""
    data = {
        "dims-TOTAL_FORMS": str(len(rows) + empty_rows),
        "dims-INITIAL_FORMS": str(initial),
        "dims-MIN_NUM_FORMS": "0",
        "dims-MAX_NUM_FORMS": "6",
    }
    for i, row in enumerate(rows):
        for field, value in row.items():
            data[f"dims-{i}-{field}"] = value
    for i in range(len(rows), len(rows) + empty_rows):
        for field in dimension_row("", ""):
            data[f"dims-{i}-{field}"] = ""
    return data


def project_data(rows: list[dict] | None = None, *, initial: int = 3, **fields) -> dict:
    data = {
        "name": "Kind replies",
        "mode": "pairwise",
        "guidelines": "# Be kind\nPrefer the kinder answer.",
        "scores_required": "on",
        "rationale_policy": "on_harm",
        "lease_minutes": "30",
        "overlap": "2",
        "base_flags": ALL_BASE_KEYS,
        "custom_flags": "",
        **fields,
    }
    data.update(dims(DEFAULT_ROWS if rows is None else rows, initial=initial))
    return data


@pytest.fixture
def creator(db):
    user = make_user("creator")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="projects", codename="add_project")
    )
    return user


@pytest.fixture
def outsider(db):
    return make_user("outsider")


@pytest.fixture
def other_project(db):
    """A project whose trainer has nothing to do with the `project` fixture."""
    owner = make_user("other_lead")
    other = create_project(name="Other project", created_by=owner)
    add_member(project=other, user=make_user("foreign_trainer"), role=Membership.Role.TRAINER)
    return other


def settings_data(project: Project, **fields) -> dict:
    """The settings form as the page would post it back unchanged, with `fields` changed."""
    rows = [
        dimension_row(d.key, d.name, d.description, d.anchors) for d in project.dimensions.all()
    ]
    flags = list(project.flags.all())
    data = project_data(
        rows,
        initial=len(rows),
        name=project.name,
        mode=project.mode,
        guidelines=project.guidelines,
        rationale_policy=project.rationale_policy,
        lease_minutes=str(project.lease_minutes),
        overlap=str(project.overlap),
        base_flags=[f.key for f in flags if f.kind != Flag.Kind.CUSTOM],
        custom_flags="\n".join(f"{f.key}: {f.label}" for f in flags if f.kind == "custom"),
    )
    data.update(fields)
    return data


# Creating a project


def test_the_create_page_is_prefilled_with_the_default_rubric_and_every_base_flag(client, creator):
    client.force_login(creator)
    response = client.get(reverse("project_new"))
    assert response.status_code == 200
    html = response.content.decode()
    for d in DEFAULT_DIMENSIONS:
        assert f'value="{d["key"]}"' in html
        assert d["anchors"]["7"] in html
    for flag in BASE_FLAGS:
        assert f'value="{flag.key}" id="id_base_flags_' in html
        assert flag.description.replace("'", "&#x27;") in html
    assert html.count(" checked") == len(BASE_FLAGS) + 1  # the flags and scores_required
    assert 'name="dims-TOTAL_FORMS" value="4"' in html  # three defaults and one empty row
    assert "style=" not in html
    assert "onclick" not in html
    assert "<script>" not in html


def test_a_user_with_permission_creates_a_project_with_custom_anchors_and_flags(client, creator):
    rows = [
        dimension_row(
            "helpfulness",
            "Helpfulness",
            "Does it help?",
            {"1": "Useless.", "4": "Half way.", "7": "Exactly what was needed."},
        ),
        {**DEFAULT_ROWS[1], "DELETE": "on"},
        DEFAULT_ROWS[2],
        dimension_row("clarity", "Clarity", "Easy to follow?", {"1": "Muddled.", "7": "Crisp."}),
    ]
    data = project_data(
        rows,
        base_flags=[k for k in ALL_BASE_KEYS if k != "needless_refusal"],
        custom_flags="off_topic: Off topic\n\n  too_long : Too long  \n",
    )
    client.force_login(creator)

    response = client.post(reverse("project_new"), data)

    project = Project.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("project_overview", args=[project.slug])
    assert (project.name, project.slug, project.mode) == (
        "Kind replies",
        "kind-replies",
        "pairwise",
    )
    assert (project.overlap, project.lease_minutes, project.scores_required) == (2, 30, True)
    assert project.rationale_policy == "on_harm"
    assert project.created_by == creator
    assert [(d.key, d.position, d.anchors) for d in project.dimensions.all()] == [
        ("helpfulness", 0, {"1": "Useless.", "4": "Half way.", "7": "Exactly what was needed."}),
        ("harmlessness", 1, DEFAULT_DIMENSIONS[2]["anchors"]),
        ("clarity", 2, {"1": "Muddled.", "7": "Crisp."}),
    ]
    assert project.dimensions.get(key="clarity").description == "Easy to follow?"
    flags = list(project.flags.values_list("key", "label", "kind"))
    assert flags == [
        *((f.key, f.label, f.kind) for f in BASE_FLAGS if f.key != "needless_refusal"),
        ("off_topic", "Off topic", "custom"),
        ("too_long", "Too long", "custom"),
    ]
    assert list(project.memberships.values_list("user__username", "role")) == [("creator", "lead")]
    revision = GuidelineRevision.objects.get(project=project)
    assert (revision.version, revision.text) == (1, "# Be kind\nPrefer the kinder answer.")
    assert revision.created_by == creator
    assert project.guidelines_version == 1


def test_a_superuser_may_create_a_project(client, db):
    admin = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    assert client.get(reverse("project_new")).status_code == 200
    response = client.post(reverse("project_new"), project_data(mode="ranking"))
    assert response.status_code == 302
    assert Project.objects.get().mode == "ranking"


def test_a_user_without_the_add_project_permission_gets_403(client, lead):
    client.force_login(lead)
    assert client.get(reverse("project_new")).status_code == 403
    assert client.post(reverse("project_new"), project_data()).status_code == 403
    assert not Project.objects.exists()


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get(reverse("project_new"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param(
            {"dims-2-key": "helpfulness"},
            "Two dimensions have the key “helpfulness”",
            id="duplicate-dimension-keys",
        ),
        pytest.param(
            {"dims-2-key": "Helpfulness"},
            "Two dimensions have the key “helpfulness”",
            id="dimension-keys-differing-only-in-case",
        ),
        pytest.param({"dims-0-key": "not a slug"}, "valid “slug”", id="non-slug-dimension-key"),
        pytest.param(
            {"custom_flags": "off_topic: Off topic\nhate: Hateful"},
            "Line 2: “hate” is a base flag",
            id="custom-flag-colliding-with-a-base-key",
        ),
        pytest.param(
            {"custom_flags": "off topic: Off topic"},
            "Line 1: “off topic” is not a valid key",
            id="non-slug-custom-flag-key",
        ),
        pytest.param(
            {"custom_flags": "just a label"}, "Line 1: write it as key: Label", id="no-colon"
        ),
        pytest.param(
            {"custom_flags": "a: A\na: Again"}, "Line 2: “a” is listed twice", id="repeated-flag"
        ),
        pytest.param({"dims-3-name": "Only a name"}, "This field is required", id="half-row"),
        pytest.param({"overlap": "0"}, "greater than or equal to 1", id="zero-overlap"),
        pytest.param({"name": ""}, "This field is required", id="no-name"),
        pytest.param(
            {f"dims-{i}-DELETE": "on" for i in range(3)},
            "The rubric needs at least one dimension",
            id="no-dimensions",
        ),
    ],
)
def test_bad_input_rerenders_the_form_with_the_error_and_creates_nothing(
    client, creator, change, error
):
    client.force_login(creator)
    response = client.post(reverse("project_new"), {**project_data(), **change})
    assert response.status_code == 200
    html = response.content.decode()
    assert error in html
    assert "Nothing was saved" in html
    assert not Project.objects.exists()
    assert not Dimension.objects.exists()
    assert not Flag.objects.exists()
    assert not GuidelineRevision.objects.exists()


def test_more_than_six_dimensions_are_refused(client, creator):
    rows = [dimension_row(f"dim{i}", f"Dimension {i}") for i in range(7)]
    client.force_login(creator)
    response = client.post(reverse("project_new"), project_data(rows, initial=3))
    assert response.status_code == 200
    assert "Please submit at most 6 forms" in response.content.decode()
    assert not Project.objects.exists()


# Settings


def test_the_settings_page_is_prefilled_with_the_projects_rubric_and_flags(client, lead, project):
    Flag.objects.create(project=project, key="off_topic", label="Off topic", kind="custom")
    client.force_login(lead)
    response = client.get(reverse("project_settings", args=[project.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="Helpful assistant"' in html
    assert "# Guidelines\nBe fair." in html
    assert "off_topic: Off topic" in html
    assert 'value="harmlessness"' in html
    assert "Currently version 1" in html


def test_saving_settings_with_the_same_guidelines_keeps_their_version(client, lead, project):
    client.force_login(lead)
    data = settings_data(
        project,
        name="Helpful and kind",
        overlap="3",
        lease_minutes="45",
        rationale_policy="required",
    )
    del data["scores_required"]  # unticked
    response = client.post(reverse("project_settings", args=[project.slug]), data)
    assert response.status_code == 302
    assert response.url == reverse("project_overview", args=[project.slug])
    project.refresh_from_db()
    assert (project.name, project.overlap, project.lease_minutes) == ("Helpful and kind", 3, 45)
    assert (project.rationale_policy, project.scores_required) == ("required", False)
    assert project.slug == "helpful-assistant"  # links keep working after a rename
    assert project.guidelines_version == 1
    assert list(project.revisions.values_list("version", flat=True)) == [1]


def test_saving_changed_guidelines_makes_a_new_version(client, lead, project):
    client.force_login(lead)
    data = settings_data(project, guidelines="# Guidelines\nBe fair and brief.")
    response = client.post(reverse("project_settings", args=[project.slug]), data)
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.guidelines_version == 2
    assert project.guidelines == "# Guidelines\nBe fair and brief."
    latest = project.revisions.get(version=2)
    assert (latest.text, latest.created_by) == ("# Guidelines\nBe fair and brief.", lead)
    # Saving again unchanged keeps version 2.
    client.post(reverse("project_settings", args=[project.slug]), settings_data(project))
    project.refresh_from_db()
    assert project.guidelines_version == 2


def test_settings_replace_the_rubric_and_the_flag_set(client, lead, project):
    rows = [
        dimension_row("helpfulness", "Helpfulness", "Helps?", {"1": "No.", "7": "Yes."}),
        {**DEFAULT_ROWS[1], "DELETE": "on"},
        DEFAULT_ROWS[2],
        dimension_row("tone", "Tone", "Polite?", {"4": "Neutral."}),
    ]
    data = settings_data(project)
    data.update(dims(rows, initial=3))
    data.update(base_flags=["hate", "factual_error"], custom_flags="rude: Rude")
    client.force_login(lead)
    response = client.post(reverse("project_settings", args=[project.slug]), data)
    assert response.status_code == 302
    assert [(d.key, d.anchors) for d in project.dimensions.all()] == [
        ("helpfulness", {"1": "No.", "7": "Yes."}),
        ("harmlessness", DEFAULT_DIMENSIONS[2]["anchors"]),
        ("tone", {"4": "Neutral."}),
    ]
    assert list(project.flags.values_list("key", "kind")) == [
        ("hate", "harm"),
        ("factual_error", "quality"),
        ("rude", "custom"),
    ]


def test_the_mode_can_change_while_the_project_has_no_items(client, lead, project):
    client.force_login(lead)
    client.post(
        reverse("project_settings", args=[project.slug]), settings_data(project, mode="ranking")
    )
    project.refresh_from_db()
    assert project.mode == "ranking"


def test_the_mode_is_read_only_once_the_project_has_items(client, lead, project):
    make_item(project)
    client.force_login(lead)
    url = reverse("project_settings", args=[project.slug])
    page = client.get(url).content.decode()
    assert '<select name="mode" disabled' in page
    assert "The mode cannot change once the project has items." in page
    response = client.post(url, settings_data(project, mode="ranking", overlap="2"))
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.mode, project.overlap) == ("pairwise", 2)


def test_bad_settings_rerender_and_change_nothing(client, lead, project):
    client.force_login(lead)
    data = settings_data(project, name="Renamed", guidelines="New text", custom_flags="hate: x")
    response = client.post(reverse("project_settings", args=[project.slug]), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "is a base flag" in html
    assert "<title>Settings · Helpful assistant" in html
    project.refresh_from_db()
    assert (project.name, project.guidelines_version) == ("Helpful assistant", 1)


# Members


def members_url(project: Project) -> str:
    return reverse("project_members", args=[project.slug])


def membership(project: Project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


def test_the_members_page_lists_every_member_with_role_and_join_date(client, lead, project):
    client.force_login(lead)
    response = client.get(members_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("lead", "trainer", "other_trainer", "researcher"):
        assert f"<td>{name}" in html
    assert html.count(">Trainer</span>") == 2
    assert timezone.localdate().strftime("%-d %b %Y") in html


def test_a_lead_adds_an_existing_user_by_username(client, lead, project):
    newcomer = make_user("newcomer")
    client.force_login(lead)
    response = client.post(members_url(project), {"username": "newcomer", "role": "researcher"})
    assert response.status_code == 302
    assert membership(project, newcomer).role == "researcher"
    assert "newcomer added as researcher." in client.get(members_url(project)).content.decode()


def test_adding_an_unknown_username_shows_an_error(client, lead, project):
    client.force_login(lead)
    before = Membership.objects.count()
    response = client.post(members_url(project), {"username": "nobody", "role": "trainer"})
    assert response.status_code == 200
    assert "There is no user called “nobody”." in response.content.decode()
    assert Membership.objects.count() == before


def test_adding_someone_already_in_the_project_shows_an_error(client, lead, project, trainer):
    client.force_login(lead)
    response = client.post(members_url(project), {"username": "trainer", "role": "lead"})
    assert response.status_code == 200
    assert "trainer is already a member" in response.content.decode()
    assert membership(project, trainer).role == "trainer"


def test_a_lead_changes_a_members_role(client, lead, project, trainer):
    client.force_login(lead)
    m = membership(project, trainer)
    url = reverse("project_member_role", args=[project.slug, m.pk])
    response = client.post(url, {"role": "researcher"}, follow=True)
    assert response.redirect_chain[-1][0] == members_url(project)
    assert "trainer is now Researcher." in response.content.decode()
    m.refresh_from_db()
    assert m.role == "researcher"


def test_a_lead_removes_a_member(client, lead, project, trainer):
    client.force_login(lead)
    url = reverse("project_member_remove", args=[project.slug, membership(project, trainer).pk])
    response = client.post(url)
    assert response.status_code == 302
    assert not Membership.objects.filter(project=project, user=trainer).exists()


def test_the_last_lead_can_neither_demote_nor_remove_themselves(client, lead, project):
    client.force_login(lead)
    m = membership(project, lead)
    demote = reverse("project_member_role", args=[project.slug, m.pk])
    response = client.post(demote, {"role": "trainer"}, follow=True)
    assert "A project needs at least one lead" in response.content.decode()
    remove = reverse("project_member_remove", args=[project.slug, m.pk])
    response = client.post(remove, follow=True)
    assert "A project needs at least one lead" in response.content.decode()
    m.refresh_from_db()
    assert m.role == "lead"


def test_a_lead_may_step_down_when_another_lead_remains(client, lead, project, researcher):
    add_member(project=project, user=researcher, role=Membership.Role.LEAD)
    client.force_login(lead)
    m = membership(project, lead)
    response = client.post(
        reverse("project_member_role", args=[project.slug, m.pk]), {"role": "trainer"}
    )
    assert response.status_code == 302
    assert response.url == reverse("project_overview", args=[project.slug])
    m.refresh_from_db()
    assert m.role == "trainer"
    assert client.get(members_url(project)).status_code == 404


def test_a_membership_of_another_project_cannot_be_changed_through_this_one(
    client, lead, project, other_project
):
    foreign = other_project.memberships.get(role="trainer")
    client.force_login(lead)
    url = reverse("project_member_remove", args=[project.slug, foreign.pk])
    assert client.post(url).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


# Overview


def judge(item: Item, trainer, *, status: str = "submitted", at=None) -> Assignment:
    """An assignment of `item` to `trainer`; a judgment too when it was submitted."""
    ids = list(item.candidates.order_by("pk").values_list("pk", flat=True))
    assignment = Assignment.objects.create(
        item=item,
        trainer=trainer,
        status=status,
        lease_expires_at=timezone.now() + timedelta(minutes=30),
        display_order=ids,
    )
    if status == "submitted":
        judgment = Judgment.objects.create(
            assignment=assignment,
            preferred_id=ids[0],
            strength=2,
            shown_order=ids,
            guideline_version=1,
        )
        if at is not None:
            Judgment.objects.filter(pk=judgment.pk).update(created_at=at)
    return assignment


@pytest.fixture
def judged_project(project, trainer, other_trainer, other_project):
    """Five prompts, four items: two judged (one twice, one yesterday), one leased, one new."""
    first, second, third, _fourth = (make_item(project) for _ in range(4))
    Prompt.objects.create(project=project, messages=[{"role": "user", "content": "No item yet"}])
    judge(first, trainer)
    judge(first, other_trainer)
    judge(second, trainer, at=timezone.now() - timedelta(days=1, hours=1))
    judge(third, trainer, status="leased")
    judge(third, other_trainer, status="skipped")
    # Another project's work counts only there.
    judge(make_item(other_project), other_project.created_by)
    return project


EXPECTED_COUNTS = {"prompts": 5, "items": 4, "judged": 2, "remaining": 2, "judgments_today": 2}


def test_the_overview_counts_match_the_projects_rows(client, trainer, judged_project):
    client.force_login(trainer)
    response = client.get(reverse("project_overview", args=[judged_project.slug]))
    assert response.status_code == 200
    assert response.context["counts"] == EXPECTED_COUNTS
    html = response.content.decode()
    assert '<strong>5</strong><span class="muted">prompts</span>' in html
    assert '<strong>2</strong><span class="muted">judgments today</span>' in html


def test_the_overview_takes_the_same_few_queries_however_many_items(
    client, trainer, judged_project, django_assert_num_queries
):
    client.force_login(trainer)
    url = reverse("project_overview", args=[judged_project.slug])
    # The session with its user, membership with project, then three aggregate counts.
    with django_assert_num_queries(5):
        client.get(url)
    for _ in range(5):
        judge(make_item(judged_project), trainer)
    with django_assert_num_queries(5):
        response = client.get(url)
    assert response.context["counts"]["judged"] == 7


def test_a_trainer_sees_the_guidelines_and_a_start_labeling_button(client, trainer, project):
    project.guidelines = "# Guidelines\nBe **fair**.\n\n<script>alert(1)</script>"
    project.guidelines_version = 3
    project.save()
    client.force_login(trainer)
    response = client.get(reverse("project_overview", args=[project.slug]))
    html = response.content.decode()
    assert "<h1>Helpful assistant</h1>" in html
    assert "Pairwise (A vs B)" in html
    assert f'<form method="post" action="{reverse("work_next", args=[project.slug])}">' in html
    assert "Start labeling" in html
    assert "<h1>Guidelines</h1>" in html
    assert "<strong>fair</strong>" in html
    assert "<script>alert" not in html
    assert "version 3" in html
    assert reverse("project_settings", args=[project.slug]) not in html


def test_a_lead_sees_links_to_settings_members_and_import(client, lead, project):
    client.force_login(lead)
    html = client.get(reverse("project_overview", args=[project.slug])).content.decode()
    assert reverse("project_settings", args=[project.slug]) in html
    assert reverse("project_members", args=[project.slug]) in html
    assert reverse("project_import", args=[project.slug]) in html
    assert "Start labeling" not in html
    assert "Django admin" not in html  # only for staff, who can use it


def test_a_staff_lead_also_sees_a_link_to_the_admin(client, lead, project):
    lead.is_staff = True
    lead.save()
    client.force_login(lead)
    html = client.get(reverse("project_overview", args=[project.slug])).content.decode()
    assert 'href="/admin/' in html
    assert "Django admin" in html


def test_a_researcher_sees_only_the_counts(client, researcher, judged_project):
    client.force_login(researcher)
    response = client.get(reverse("project_overview", args=[judged_project.slug]))
    assert response.context["counts"] == EXPECTED_COUNTS
    html = response.content.decode()
    assert "Start labeling" not in html
    assert reverse("project_settings", args=[judged_project.slug]) not in html
    assert reverse("project_import", args=[judged_project.slug]) not in html


# Who gets 404


PAGES = ["project_overview", "project_settings", "project_members"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_404_for_a_non_member(client, outsider, project, page):
    client.force_login(outsider)
    assert client.get(reverse(page, args=[project.slug])).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_404_for_a_trainer_of_another_project(client, project, other_project, page):
    client.force_login(other_project.memberships.get(role="trainer").user)
    assert client.get(reverse(page, args=[project.slug])).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_404_for_an_unknown_project(client, lead, page):
    client.force_login(lead)
    assert client.get(reverse(page, args=["no-such-project"])).status_code == 404


@pytest.mark.parametrize("page", ["project_settings", "project_members"])
@pytest.mark.parametrize("who", ["trainer", "researcher"])
def test_trainers_and_researchers_get_404_on_the_lead_pages(client, request, project, page, who):
    client.force_login(request.getfixturevalue(who))
    url = reverse(page, args=[project.slug])
    assert client.get(url).status_code == 404
    assert client.post(url, settings_data(project, name="Taken over")).status_code == 404
    project.refresh_from_db()
    assert project.name == "Helpful assistant"


def test_a_trainer_cannot_change_roles_or_remove_members(client, trainer, lead, project):
    client.force_login(trainer)
    m = membership(project, lead)
    role_url = reverse("project_member_role", args=[project.slug, m.pk])
    assert client.post(role_url, {"role": "trainer"}).status_code == 404
    remove_url = reverse("project_member_remove", args=[project.slug, m.pk])
    assert client.post(remove_url).status_code == 404
    assert membership(project, lead).role == "lead"
