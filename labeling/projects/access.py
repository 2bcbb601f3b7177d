"""The one door through which views reach a project: membership and role are checked here.

Anyone without the right membership gets 404, never 403, so project names do not leak.
"""

from django.http import Http404

from .models import Membership, Project

Role = Membership.Role


def get_membership(user, project: Project) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(project=project, user=user).first()


def get_project_for(user, slug: str, *roles: str) -> tuple[Project, Membership]:
    """Return the project and the user's membership, or 404 if they lack one of `roles`.

    With no roles given any membership will do.
    """
    membership = (
        Membership.objects.select_related("project").filter(project__slug=slug, user=user).first()
        if user.is_authenticated
        else None
    )
    if membership is None or (roles and membership.role not in roles):
        raise Http404("No such project")
    return membership.project, membership


def projects_of(user):
    return Project.objects.filter(memberships__user=user).distinct()
