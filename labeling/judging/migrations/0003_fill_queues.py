from django.db import migrations, models
from django.db.models import Count, Q


def fill(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    Queue = apps.get_model("judging", "Queue")
    Item = apps.get_model("judging", "Item")
    for project in Project.objects.all():
        queue, _ = Queue.objects.get_or_create(
            project=project, is_default=True, defaults={"name": "Main", "overlap": project.overlap}
        )
        items = Item.objects.filter(project=project).annotate(
            done=Count("assignments__judgment", filter=Q(assignments__judgment__counts=True)),
            held=Count("assignments", filter=Q(assignments__status="leased")),
        )
        for item in items:
            item.queue = queue
            item.n_judgments = item.done
            item.n_leases = item.held
            item.open_slots = max(0, queue.overlap - item.done - item.held)
            item.save(update_fields=["queue", "n_judgments", "n_leases", "open_slots"])


class Migration(migrations.Migration):
    dependencies = [("judging", "0002_queues"), ("projects", "0002_queues")]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="item",
            name="queue",
            field=models.ForeignKey(
                on_delete=models.deletion.PROTECT, related_name="items", to="judging.queue"
            ),
        ),
    ]
