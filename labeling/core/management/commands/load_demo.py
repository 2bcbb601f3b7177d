"""Create (or refresh) the demo project and print its logins with fresh passwords."""

import secrets

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from labeling.accounts.models import User
from labeling.core.demo_data import PAIRS, RANKED
from labeling.judging.models import Item, ItemCandidate
from labeling.projects.models import Candidate, Membership, Project, Prompt
from labeling.projects.services import add_member, create_project

GUIDELINES = """# How to judge

1. **Read the whole conversation.** The last user turn is the one being answered.
2. **Score each response** on helpfulness, truthfulness and harmlessness (1–7).
3. **Choose the better response** and how much better it is. Use *about the same*
   only when you would be happy with either.
4. **Flag** anything harmful or wrong, and explain harm flags in the rationale.

A safe refusal of a dangerous request beats a helpful answer to it.
"""


class Command(BaseCommand):
    help = "Create the demo projects and users; print the logins (passwords are new each run)."

    def handle(self, *args, **options):
        logins = {}
        with transaction.atomic():
            users = {}
            for role in ("trainer", "lead", "researcher"):
                user, _ = User.objects.get_or_create(username=f"demo-{role}")
                password = secrets.token_urlsafe(9)
                user.set_password(password)
                user.save()
                users[role] = user
                logins[user.username] = password
            users["lead"].user_permissions.add(Permission.objects.get(codename="add_project"))
            if not Project.objects.filter(slug="demo-pairs").exists():
                self._make(users, "Demo pairs", "pairwise", PAIRS)
                self._make(users, "Demo rankings", "ranking", RANKED)
        self.stdout.write(self.style.SUCCESS("Demo logins (new passwords each run):"))
        for username, password in logins.items():
            self.stdout.write(f"  {username:16} {password}")

    def _make(self, users, name, mode, records):
        project = create_project(
            name=name, created_by=users["lead"], mode=mode, guidelines=GUIDELINES
        )
        add_member(project=project, user=users["trainer"], role=Membership.Role.TRAINER)
        add_member(project=project, user=users["researcher"], role=Membership.Role.RESEARCHER)
        for record in records:
            messages = record.get("messages") or [{"role": "user", "content": record["prompt"]}]
            prompt = Prompt.objects.create(project=project, messages=messages, metadata={"demo": True})
            item = Item.objects.create(project=project, prompt=prompt)
            for slot, text in enumerate(record["responses"]):
                candidate = Candidate.objects.create(
                    prompt=prompt, text=text, model_name=f"demo-model-{'abcd'[slot]}"
                )
                ItemCandidate.objects.create(item=item, candidate=candidate, slot=slot)
        return project
