"""Adding members, changing roles and removing members are in the audit log."""

from django.urls import reverse

from labeling.core.models import AuditEvent
from labeling.projects.models import Membership
from tests.factories import PASSWORD, make_user


def events(project):
    return list(
        AuditEvent.objects.filter(
            project=project, action__in=["member_added", "role_changed", "member_removed"]
        )
        .order_by("id")
        .values_list("action", "actor__username", "details")
    )


def test_role_changes_are_audited_with_who_and_what(client, project, lead):
    newcomer = make_user("newcomer")
    before = len(events(project))
    client.login(username=lead.username, password=PASSWORD)
    members = reverse("project_members", args=[project.slug])
    assert client.post(members, {"username": "newcomer", "role": "trainer"}).status_code == 302
    membership = Membership.objects.get(project=project, user=newcomer)
    url = reverse("project_member_role", args=[project.slug, membership.pk])
    assert client.post(url, {"role": "lead"}).status_code == 302
    assert client.post(url, {"role": "lead"}).status_code == 302  # no change, no event
    remove = reverse("project_member_remove", args=[project.slug, membership.pk])
    assert client.post(remove).status_code == 302
    assert events(project)[before:] == [
        (
            "member_added",
            "lead",
            {"role": "trainer", "user_id": newcomer.pk, "username": "newcomer"},
        ),
        (
            "role_changed",
            "lead",
            {"role": "lead", "previous": "trainer", "user_id": newcomer.pk, "username": "newcomer"},
        ),
        (
            "member_removed",
            "lead",
            {"previous": "lead", "user_id": newcomer.pk, "username": "newcomer"},
        ),
    ]
    assert not Membership.objects.filter(project=project, user=newcomer).exists()


def test_a_refused_demotion_of_the_last_lead_is_not_logged(client, project, lead):
    client.login(username=lead.username, password=PASSWORD)
    own = Membership.objects.get(project=project, user=lead)
    before = len(events(project))
    client.post(reverse("project_member_role", args=[project.slug, own.pk]), {"role": "trainer"})
    assert len(events(project)) == before
    assert Membership.objects.get(pk=own.pk).role == "lead"


def test_the_creator_becoming_lead_is_logged(project, lead):
    assert events(project)[0] == (
        "member_added",
        "lead",
        {"role": "lead", "user_id": lead.pk, "username": "lead"},
    )
