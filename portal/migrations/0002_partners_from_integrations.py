"""One partner per distinct HttpIntegration.partner_name of each organization, owning those
integrations; nothing is renamed or removed (partner_name stays, the API still shows it).

An API key is attached only where it is obvious: its name is exactly (ignoring case and
surrounding spaces) the name of one of its organization's partners. Other keys stay
unattached until an administrator picks their partner."""

from django.db import migrations


def forwards(apps, schema_editor):
    Partner = apps.get_model("portal", "Partner")
    HttpIntegration = apps.get_model("integrations", "HttpIntegration")
    OrganizationAPIKey = apps.get_model("healix", "OrganizationAPIKey")
    partners: dict[tuple[int, str], object] = {}
    for integration in HttpIntegration.objects.filter(partner__isnull=True).order_by("created_at"):
        name = integration.partner_name.strip()
        # Names differing only in case are one partner (the unique constraint is exact).
        key = (integration.organization_id, name.lower())
        if key not in partners:
            partners[key] = Partner.objects.get_or_create(
                organization_id=integration.organization_id, name=name
            )[0]
        integration.partner = partners[key]
        integration.save(update_fields=["partner"])
    for api_key in OrganizationAPIKey.objects.filter(partner__isnull=True):
        partner = partners.get((api_key.organization_id, (api_key.name or "").strip().lower()))
        if partner is not None:
            api_key.partner = partner
            api_key.save(update_fields=["partner"])


def backwards(apps, schema_editor):
    # The integrations keep partner_name, so forgetting the partners loses nothing.
    apps.get_model("portal", "Partner").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("healix", "0012_organizationapikey_partner"),
        ("integrations", "0015_httpintegration_partner"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
