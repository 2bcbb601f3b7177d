"""The one door through which views reach a project: membership and role are checked here.

Anyone without the right membership gets 404, never 403, so project names do not leak.
"""

from django.db import connection
from django.http import Http404

from labeling.core.db import model_from_row, select_columns

from .models import Membership, Project

Role = Membership.Role


def get_membership(user, project: Project) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(project=project, user=user).first()


_MEMBERSHIP_SQL = (
    "SELECT {membership}, {project} FROM projects_membership m "
    "JOIN projects_project p ON p.id = m.project_id WHERE p.slug = %s AND m.user_id = %s"
)


def get_project_for(user, slug: str, *roles: str) -> tuple[Project, Membership]:
    """Return the project and the user's membership, or 404 if they lack one of `roles`.

    With no roles given any membership will do. (One plain statement: every trainer's
    page starts here, and compiling the equivalent ORM join cost more than running it.)
    """
    row = None
    if user.is_authenticated:
        sql = _MEMBERSHIP_SQL.format(
            membership=select_columns(Membership, "m"), project=select_columns(Project, "p")
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [slug, user.pk])
            row = cursor.fetchone()
    if row is None:
        raise Http404("No such project")
    membership = model_from_row(Membership, "m", row, 0)
    if roles and membership.role not in roles:
        raise Http404("No such project")
    project = model_from_row(Project, "p", row, len(Membership._meta.concrete_fields))
    Membership.project.field.set_cached_value(membership, project)
    return project, membership


def projects_of(user):
    return Project.objects.filter(memberships__user=user).distinct()
