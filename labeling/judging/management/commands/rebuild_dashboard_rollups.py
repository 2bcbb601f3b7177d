"""`rebuild_dashboard_rollups [slug …]`: recompute the lead dashboard's rollups."""

from django.core.management.base import BaseCommand

from labeling.judging.rollups import rebuild_rollups
from labeling.projects.models import Project


class Command(BaseCommand):
    help = "Recompute the dashboard's per-trainer and per-minute rollups from the judgments."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="projects (default: all)")

    def handle(self, *args, slugs, **options):
        projects = Project.objects.filter(slug__in=slugs) if slugs else Project.objects.all()
        for project in projects:
            n = rebuild_rollups(project=project)
            self.stdout.write(f"{project.slug}: {n} judgments")
