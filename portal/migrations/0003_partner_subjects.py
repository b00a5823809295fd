"""Inbound subjects owned by a partner: the portal shows a partner the events of its own
subjects only. Kept inside the partner's organization by a composite key (healix/db.py)."""

import django.db.models.deletion
from django.db import migrations, models

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):

    dependencies = [
        ('healix', '0012_organizationapikey_partner'),
        ('portal', '0002_partners_from_integrations'),
    ]

    operations = [
        migrations.CreateModel(
            name='PartnerSubject',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subject', models.CharField(max_length=200)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='healix.organization')),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='subjects', to='portal.partner')),
            ],
            options={
                'ordering': ['subject'],
                'constraints': [models.UniqueConstraint(fields=('organization', 'id'), name='portal_partnersubject_organization_id_unique'), models.UniqueConstraint(fields=('organization', 'subject'), name='partnersubject_one_partner_per_subject')],
            },
        ),
        SameScopeForeignKey("partnersubject", "partner"),
    ]
