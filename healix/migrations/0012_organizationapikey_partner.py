"""An API key may belong to a partner (portal/models.py), of its own organization only:
PostgreSQL keeps it there with a composite key (healix/db.py)."""

import django.db.models.deletion
from django.db import migrations, models

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):

    dependencies = [
        ('healix', '0011_api_auth_failure_window'),
        ('portal', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='organizationapikey',
            name='partner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='api_keys', to='portal.partner'),
        ),
        SameScopeForeignKey("organizationapikey", "partner"),
    ]
