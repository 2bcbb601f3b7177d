"""Build a dataset export from the command line, as a new version, like the web page does.

    python manage.py export_dataset <project-slug> --format trl_explicit --file-type jsonl \\
        --set aggregate=none --set test_ratio=0.05 [--as USERNAME] [--enqueue]

Without --enqueue the export runs in this process (no worker needed).
"""

import json

from django.core.management.base import BaseCommand, CommandError

from labeling.accounts.models import User
from labeling.datasets.models import Export
from labeling.datasets.options import FORMATS, OptionsError
from labeling.datasets.services import options_for, run_export, start_export
from labeling.projects.models import Project


def _value(raw: str):
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


class Command(BaseCommand):
    help = "Export a project's judgments as a versioned dataset (folder, card, manifest)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", default="trl_explicit", choices=sorted(FORMATS))
        parser.add_argument("--file-type", default="jsonl", choices=["jsonl", "parquet", "csv"])
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="OPTION=VALUE",
            help="any export option, e.g. aggregate=none, min_judgments=2, models='[\"m-1\"]'",
        )
        parser.add_argument("--as", dest="username", help="recorded as the export's author")
        parser.add_argument("--enqueue", action="store_true", help="queue for a Celery worker")

    def handle(self, *args, slug: str, **opts) -> None:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project with slug {slug!r}")
        user = None
        if opts["username"]:
            user = User.objects.filter(username=opts["username"]).first()
            if user is None:
                raise CommandError(f"No user {opts['username']!r}")
        data = {"format": opts["format"], "file_type": opts["file_type"]}
        for item in opts["set"]:
            name, sep, raw = item.partition("=")
            if not sep:
                raise CommandError(f"--set needs OPTION=VALUE, got {item!r}")
            data[name.strip()] = _value(raw)
        try:
            options = options_for(project=project, data=data)
        except OptionsError as exc:
            raise CommandError(str(exc)) from exc
        export = start_export(project=project, user=user, options=options, enqueue=opts["enqueue"])
        if opts["enqueue"]:
            self.stdout.write(f"Export v{export.version} queued.")
            return
        outcome = run_export(export_id=export.pk)
        export.refresh_from_db()
        if outcome != "done":
            raise CommandError(f"Export v{export.version} {outcome}: {export.error}")
        rows = ", ".join(f"{k} {v:,}" for k, v in export.counts.get("rows", {}).items())
        self.stdout.write(
            f"Export v{export.version} done: {rows or 'no rows'}; "
            f"{export.total_bytes:,} bytes in exports/{export.folder}/"
        )
        assert export.status == Export.Status.DONE
