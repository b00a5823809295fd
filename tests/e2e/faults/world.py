"""The fault scenarios' organization, built in a subprocess on the scenario's own database
(the test process never opens it through Django: pytest-django owns that connection).

    python -m tests.e2e.faults.world <plans> <webhook url>

prints JSON: the organization's slug, the ids of its <plans> plans, and an API key. The plans'
template has the demo rule "Offer the appointment" (dev/demo.py): the first time slot a
plan is evaluated for assigns the appointment form and sets the risk status "scheduled", which
emits one planUpdated event, which the one HTTP integration (planUpdated only) turns into one
webhook; later slots find the plan scheduled and fire nothing.
"""

import json
import os
import sys
import uuid


def build(plans: int, url: str) -> dict:
    from dev.demo import create_demo_rules, create_demo_template
    from events.models import OutboxEvent
    from events.types import EventType
    from healix.models import Organization, OrganizationAPIKey, User, UserType
    from integrations.webhooks.services import ALL, create_integration
    from plans import services

    slug = f"faults-{uuid.uuid4().hex[:8]}"
    org = Organization.objects.create(slug=slug, name="Fault scenarios")
    actor = User.objects.create(username=f"{slug}-a", organization=org, user_type=UserType.ADMIN)
    patient = User.objects.create(username=f"{slug}-p", organization=org)
    template = create_demo_template(org)
    create_demo_rules(template)
    plan_ids = [
        str(services.assign_plan(actor=actor, template=template, user=patient).pk)
        for _ in range(plans)
    ]
    create_integration(
        org, partner_name="receiver", url=url, subscriptions={EventType.PLAN_UPDATED: ALL}
    )
    # The set-up's planCreated events are not the run: the run's events are its planUpdated.
    OutboxEvent.objects.filter(organization=org).delete()
    _row, key = OrganizationAPIKey.objects.create_key(
        organization=org, name="faults", scopes=["inbound:write"]
    )
    return {"org": slug, "plans": plan_ids, "key": key}


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healix.settings")
    import django

    django.setup()
    print(json.dumps(build(int(sys.argv[1]), sys.argv[2])))
