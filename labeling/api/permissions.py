"""The API's doors: the same checked getters as the HTML views, so one rule holds for both.

A user without the right membership in a project gets 404 (never 403), as on the web pages.
"""

from django.contrib.auth.decorators import login_not_required
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.permissions import IsAuthenticated

from labeling.projects.access import get_project_for
from labeling.projects.models import Membership, Project

Role = Membership.Role
LEAD = Role.LEAD
TRAINER = Role.TRAINER
RESEARCHER = Role.RESEARCHER
READERS = (LEAD, RESEARCHER)  # who reads a project's data (prompts, items, judgments, exports)


# Base view: authenticated callers only; DRF (not the login redirect) answers the rest.
# (Comments, not docstrings: drf-spectacular would show a base class's docstring as the
# description of every operation.)
class ApiView(GenericAPIView):
    permission_classes = [IsAuthenticated]

    @classmethod
    def as_view(cls, **initkwargs):
        # LoginRequiredMiddleware would redirect anonymous API calls to the login page;
        # DRF answers them with 401 instead.
        return login_not_required(super().as_view(**initkwargs))

    def project(self, *roles: str) -> tuple[Project, Membership]:
        """The project named in the URL, if the caller has one of `roles` in it (else 404)."""
        return get_project_for(self.request.user, self.kwargs["slug"], *roles)


MAX_ID = 2**63 - 1  # PostgreSQL bigint: a larger number would be a database error, not a 404


def query_int(value: str, name: str) -> int:
    """A whole number from the query string, or a 400 naming the parameter."""
    from rest_framework.exceptions import ValidationError

    try:
        number = int(value)
    except ValueError:
        raise ValidationError({name: ["A whole number is required."]}) from None
    if not 0 <= number <= MAX_ID:
        raise ValidationError({name: [f"Must be between 0 and {MAX_ID}."]})
    return number


# A list endpoint: cursor-paginated, and described as a list in the schema.
class ListView(ListModelMixin, ApiView):
    pass


# The answer for any path under /api/v1/ that names no endpoint: a JSON 404, not an HTML page.
class NotFoundView(ApiView):
    permission_classes: list = []
    schema = None  # not an operation of the API

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        from rest_framework.exceptions import NotFound

        raise NotFound()
