"""Partners and portal sessions; a session's partner stays in its organization (healix/db.py)."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models

from healix.db import SameScopeForeignKey


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('healix', '0011_api_auth_failure_window'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Partner',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='Who the partner is, for example Acme Scheduling.', max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='healix.organization')),
            ],
            options={
                'ordering': ['organization', 'name'],
            },
        ),
        migrations.CreateModel(
            name='PortalSession',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('access', models.CharField(choices=[('read-only', 'Read only'), ('read-write', 'Read and write')], default='read-only', max_length=10)),
                ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='issued at')),
                ('expires_at', models.DateTimeField(help_text='The link, and the session it starts, end then.')),
                ('used_at', models.DateTimeField(blank=True, editable=False, help_text='When the link was followed (once only).', null=True)),
                ('revoked_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('created_by', models.ForeignKey(blank=True, editable=False, help_text="The administrator, or the API key's service account.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='issued by')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='healix.organization')),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='portal_sessions', to='portal.partner')),
            ],
            options={
                'verbose_name': 'portal session',
                'ordering': ['-created_at'],
            },
        ),
        migrations.AddConstraint(
            model_name='partner',
            constraint=models.UniqueConstraint(fields=('organization', 'id'), name='portal_partner_organization_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='partner',
            constraint=models.UniqueConstraint(fields=('organization', 'name'), name='partner_name_unique_per_organization'),
        ),
        migrations.AddConstraint(
            model_name='portalsession',
            constraint=models.UniqueConstraint(fields=('organization', 'id'), name='portal_portalsession_organization_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='portalsession',
            constraint=models.CheckConstraint(condition=models.Q(('access__in', ['read-only', 'read-write'])), name='portalsession_access_known'),
        ),
        SameScopeForeignKey("portalsession", "partner"),
    ]
