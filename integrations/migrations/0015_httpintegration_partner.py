"""An HTTP integration may belong to a partner (portal/models.py), of its own organization
only: PostgreSQL keeps it there with a composite key (healix/db.py)."""

import django.db.models.deletion
from django.db import migrations, models

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0014_drop_old_webhook_choices'),
        ('portal', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='httpintegration',
            name='partner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='integrations', to='portal.partner'),
        ),
        SameScopeForeignKey("httpintegration", "partner"),
    ]
