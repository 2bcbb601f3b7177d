"""`manage.py import_prompts <project-slug> <path> [--as USERNAME]`."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.projects.importing import ImportFileError, describe_batch, import_prompts
from labeling.projects.models import Project


class Command(BaseCommand):
    help = "Import prompts, and optionally their responses, from a JSONL or CSV file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The project's slug.")
        parser.add_argument("path", help="A .jsonl, .json or .csv file (docs/import-format.md).")
        parser.add_argument("--as", dest="username", help="Record the import as made by this user.")

    def handle(self, *args, slug: str, path: str, username: str | None, **options) -> None:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project with the slug {slug!r}.")
        user = None
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named {username!r}.")
        file_path = Path(path)
        try:
            with file_path.open("rb") as fileobj:
                batch = import_prompts(
                    project=project, fileobj=fileobj, filename=file_path.name, by=user
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        except ImportFileError as exc:
            raise CommandError(
                f"{path} was not imported ({len(exc.errors)} errors, nothing was saved):\n{exc}"
            ) from exc
        self.stdout.write(self.style.SUCCESS(describe_batch(batch)))
