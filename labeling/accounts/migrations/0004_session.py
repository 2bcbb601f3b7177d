"""Sessions move to accounts_session, which carries the user's id; live ones are copied."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_sessions(apps, schema_editor):
    """Copy the unexpired rows of Django's session table, each with the id of the user its
    data names (if that user still exists), so that the upgrade logs nobody out."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    old = apps.get_model("sessions", "Session")
    new = apps.get_model("accounts", "Session")
    users = set(apps.get_model("accounts", "User").objects.values_list("pk", flat=True))
    decoder = SessionStore()  # the data is signed with a salt named after this class
    rows = []
    for s in old.objects.filter(expire_date__gt=timezone.now()).iterator():
        try:
            user_id = int(decoder.decode(s.session_data).get(SESSION_KEY))
        except (TypeError, ValueError):
            user_id = None
        if user_id is not None and user_id not in users:
            continue  # the user is gone: so is their session
        rows.append(
            new(
                session_key=s.session_key,
                session_data=s.session_data,
                expire_date=s.expire_date,
                user_id=user_id,
            )
        )
    new.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_user_erased_at'),
        ('sessions', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='Session',
            fields=[
                ('session_key', models.CharField(max_length=40, primary_key=True, serialize=False, verbose_name='session key')),
                ('session_data', models.TextField(verbose_name='session data')),
                ('expire_date', models.DateTimeField(db_index=True, verbose_name='expire date')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'session',
                'verbose_name_plural': 'sessions',
                'db_table': 'accounts_session',
                'abstract': False,
            },
        ),
        migrations.RunPython(copy_sessions, migrations.RunPython.noop),
    ]
