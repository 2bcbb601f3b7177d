"""The checked doors to red-team pages: membership, role and project kind."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from labeling.projects.access import get_project_for
from labeling.projects.models import Membership, Project

from .models import Attack
from .services import visible_attacks

Role = Membership.Role


def get_redteam_project_for(user, slug: str, *roles: str) -> tuple[Project, Membership]:
    """Like get_project_for, and 404 for a project that is not a red-team project."""
    project, membership = get_project_for(user, slug, *roles)
    if not project.is_red_team:
        raise Http404("No such red-team project")
    return project, membership


def get_attack_for(user, slug: str, pk: int) -> tuple[Attack, Membership]:
    """An attack for its author or a lead of its project; 404 for anyone else."""
    project, membership = get_redteam_project_for(user, slug, Role.TRAINER, Role.LEAD)
    attack = get_object_or_404(
        visible_attacks(project=project, membership=membership).select_related(
            "prompt", "author", "project"
        ),
        pk=pk,
    )
    return attack, membership
