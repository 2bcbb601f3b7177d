from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_safety"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="kind",
            field=models.CharField(
                choices=[
                    ("preference", "Preference labeling"),
                    ("red_team", "Red team (trainers write attacks)"),
                ],
                default="preference",
                max_length=16,
            ),
        ),
    ]
