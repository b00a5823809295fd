"""The operations page: its per-bucket SQL on known rows, and what each staff user sees."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape as html_unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from healix.admin.operations import WINDOWS, overview
from integrations.models import (
    DeliveryStatus,
    InboundEvent,
    InboundSource,
    InboundStatus,
    WebhookDelivery,
)
from tests.fixtures.domain import make_user
from tests.fixtures.webhooks import make_delivery, make_integration

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 5, 10, 30, 20, tzinfo=UTC)


def inbound(organization, at: datetime, status=InboundStatus.ACCEPTED, **extra) -> InboundEvent:
    """An inbound event received at `at` (received_at is set on insert, so moved after)."""
    event = InboundEvent.objects.create(
        organization=organization,
        subject="aiEngineTimeSlot",
        source=InboundSource.REST,
        status=status,
        payload_hash=uuid.uuid4().hex if status == InboundStatus.ACCEPTED else "",
        **extra,
    )
    InboundEvent.objects.filter(pk=event.pk).update(received_at=at)
    return event


def minute(hh: int, mm: int) -> int:
    """The index of the hour window's bucket starting at hh:mm (the last one is 10:30)."""
    starts = WINDOWS["hour"].starts(NOW)
    return starts.index(datetime(2026, 1, 5, hh, mm, tzinfo=UTC))


def test_inbound_rows_land_in_their_minute_and_the_window_edges_hold(org, other_org):
    # Given rows of hrh around the hour window's edges (its first bucket starts at 09:31)
    inbound(org, datetime(2026, 1, 5, 9, 30, 59, tzinfo=UTC))  # before the window
    inbound(org, datetime(2026, 1, 5, 9, 31, 0, tzinfo=UTC))  # first bucket
    inbound(org, datetime(2026, 1, 5, 10, 29, 0, tzinfo=UTC))
    inbound(org, datetime(2026, 1, 5, 10, 29, 59, tzinfo=UTC))
    inbound(org, datetime(2026, 1, 5, 10, 30, 5, tzinfo=UTC), InboundStatus.REJECTED)
    inbound(
        org,
        datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        duplicate_count=3,
        last_seen_at=datetime(2026, 1, 5, 10, 28, 10, tzinfo=UTC),
    )
    # and rows of the other organization in the same minutes
    inbound(other_org, datetime(2026, 1, 5, 10, 29, 30, tzinfo=UTC))
    inbound(other_org, datetime(2026, 1, 5, 10, 30, 1, tzinfo=UTC), InboundStatus.REJECTED)
    # When the hour's overview of hrh is computed
    accepted, duplicates, rejected = overview(org.pk, WINDOWS["hour"], NOW).inbound
    # Then each row is in its minute, hrh's only, and nothing before 09:31 counts
    assert len(accepted.values) == 60
    assert accepted.values[0] == 1  # 09:31
    assert accepted.values[minute(10, 29)] == 2
    assert accepted.values[minute(10, 0)] == 1
    assert accepted.total == 4
    assert rejected.values[minute(10, 30)] == 1 and rejected.total == 1
    assert duplicates.values[minute(10, 28)] == 3 and duplicates.total == 3


def test_the_day_window_counts_per_quarter_hour(org):
    # Given rows at 10:15:00, 10:29:59 and 10:30:00
    for at in (
        datetime(2026, 1, 5, 10, 15, tzinfo=UTC),
        datetime(2026, 1, 5, 10, 29, 59, tzinfo=UTC),
        datetime(2026, 1, 5, 10, 30, tzinfo=UTC),
        datetime(2026, 1, 4, 10, 40, tzinfo=UTC),  # a day and a bit ago: outside
    ):
        inbound(org, at)
    # When the day's overview is computed
    accepted = overview(org.pk, WINDOWS["day"], NOW).inbound[0]
    # Then 96 buckets of 15 minutes, the first two rows in 10:15, the third in 10:30
    assert len(accepted.values) == 96
    assert accepted.values[-2:] == [2, 1]
    assert accepted.total == 3


def test_deliveries_count_per_integration_and_pending_now(org, other_org, webhook_settings):
    # Given two integrations of hrh and one of the other organization, with deliveries
    acme, _ = make_integration(org, "http://127.0.0.1:9/acme", partner_name="Acme")
    zeta, _ = make_integration(org, "http://127.0.0.1:9/zeta", partner_name="Zeta")
    theirs, _ = make_integration(other_org, "http://127.0.0.1:9/other")
    at = datetime(2026, 1, 5, 10, 29, 30, tzinfo=UTC)
    make_delivery(acme, DeliveryStatus.SUCCEEDED, at)
    make_delivery(acme, DeliveryStatus.SUCCEEDED, at)
    make_delivery(acme, DeliveryStatus.FAILED, at - timedelta(minutes=1))
    make_delivery(acme, DeliveryStatus.PENDING, None)
    retried = make_delivery(zeta, DeliveryStatus.PENDING, None)
    WebhookDelivery.objects.filter(pk=retried.pk).update(attempt_count=2)
    make_delivery(theirs, DeliveryStatus.SUCCEEDED, at)
    # When the hour's overview of hrh is computed
    lines = overview(org.pk, WINDOWS["hour"], NOW).integrations
    # Then each of hrh's integrations has its own counts
    assert [line.name for line in lines] == ["Acme", "Zeta"]
    succeeded, failed = lines[0].series
    assert succeeded.values[minute(10, 29)] == 2 and succeeded.total == 2
    assert failed.values[minute(10, 28)] == 1 and failed.total == 1
    assert (lines[0].pending, lines[1].pending) == (1, 1)
    assert lines[1].series[0].total == lines[1].series[1].total == 0
    # And Acme is failing (a failure in the hour), Zeta too (a delivery waiting for a retry)
    assert [(line.failed, line.retrying, line.failing) for line in lines] == [
        (1, 0, True),
        (0, 1, True),
    ]


@pytest.fixture
def two_organizations_traffic(org, other_org, webhook_settings):
    """hrh: 2 accepted, 1 rejected, integration "Acme"; other: 5 accepted, 4 rejected,
    integration "SecretPartner". All within the last minute."""
    now = timezone.now()
    for _ in range(2):
        inbound(org, now)
    inbound(org, now, InboundStatus.REJECTED)
    for _ in range(5):
        inbound(other_org, now)
    for _ in range(4):
        inbound(other_org, now, InboundStatus.REJECTED)
    make_integration(org, "http://127.0.0.1:9/acme", partner_name="Acme")
    make_integration(other_org, "http://127.0.0.1:9/other", partner_name="SecretPartner")


def totals(response) -> tuple[int, ...]:
    return tuple(series.total for series in response.context["overview"].inbound)


def test_a_staff_user_sees_only_their_organization(
    client, org, other_org, hrh_administrator, two_organizations_traffic
):
    # Given an hrh staff user logged in
    client.force_login(hrh_administrator)
    # When they open the operations page, even naming the other organization
    url = reverse("admin:operations")
    response = client.get(url, {"organization": other_org.pk, "window": "day"})
    # Then they see hrh's numbers, charted as inline SVG, and nothing of the other organization
    assert response.status_code == 200
    assert totals(response) == (2, 0, 1)
    html = response.content.decode()
    assert "<svg" in html and "accepted: 2" in html and "rejected: 1" in html
    assert "Acme" in html
    assert "SecretPartner" not in html and "Other Clinic" not in html
    # And Acme's row links to its page and to its pending and failed deliveries
    (acme,) = response.context["overview"].integrations
    deliveries = reverse("admin:integrations_webhookdelivery_changelist")
    assert reverse("admin:integrations_httpintegration_change", args=[acme.id]) in html
    assert f"{deliveries}?integration__id__exact={acme.id}&amp;status__exact=failed" in html
    assert 'name="organization"' not in html  # nothing to pick


def test_the_admin_index_links_to_the_operations_page(client, hrh_content_manager):
    client.force_login(hrh_content_manager)
    response = client.get(reverse("admin:index"))
    assert reverse("admin:operations") in response.content.decode()


def test_a_superuser_picks_the_organization(
    client, superuser, org, other_org, two_organizations_traffic
):
    client.force_login(superuser)
    response = client.get(reverse("admin:operations"), {"organization": other_org.pk})
    assert totals(response) == (5, 0, 4)
    assert "SecretPartner" in response.content.decode()


def test_a_user_who_is_not_staff_is_sent_to_the_login(client, org):
    client.force_login(make_user(org, "patient-login"))
    response = client.get(reverse("admin:operations"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.fixture
def retried_deliveries(org, webhook_settings):
    """hrh's integration Acme with three pending deliveries, tried 0, 3 and 1 times."""
    acme, _ = make_integration(org, "http://127.0.0.1:9/acme", partner_name="Acme")
    for attempts in (0, 3, 1):
        delivery = make_delivery(acme, DeliveryStatus.PENDING, None)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempt_count=attempts)
    return acme


def test_the_retry_link_sorts_by_attempts_whoever_follows_it(
    client, org, editor_groups, hrh_administrator, superuser, retried_deliveries
):
    # Given three people whose deliveries list has different columns: an administrator (the
    # Retry now action, so a checkbox column first), a viewer of deliveries (no action, no
    # checkbox) and the platform's superuser (the organization column too)
    viewer = make_user(org, "viewer", "ADMIN", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_webhookdelivery"))
    sorts = set()
    for user in (hrh_administrator, viewer, superuser):
        client.force_login(user)
        page = client.get(reverse("admin:operations"), {"organization": org.pk})
        ((line, links),) = page.context["endpoints"]
        assert (line.name, line.pending, line.retrying) == ("Acme", 3, 2)
        # When they follow "waiting for a retry"
        assert f'<a href="{escape(links["retrying"])}">2</a>' in page.content.decode()
        listed = client.get(links["retrying"])
        # Then the list is Acme's pending deliveries, sorted by the attempts column, most first
        assert listed.status_code == 200, user
        changelist = listed.context["cl"]
        ((index, direction),) = changelist.get_ordering_field_columns().items()
        assert (changelist.list_display[index], direction) == ("attempt_count", "desc"), user
        attempts = [delivery.attempt_count for delivery in changelist.result_list]
        assert attempts == [3, 1, 0], user
        sorts.add(parse_qs(urlsplit(links["retrying"]).query)["o"][0])
    # And no one column number would have served all three
    assert len(sorts) > 1


def test_a_user_who_may_not_open_deliveries_reads_the_counts_without_links(
    client, hrh_content_manager, retried_deliveries
):
    client.force_login(hrh_content_manager)
    page = client.get(reverse("admin:operations"))
    ((_line, links),) = page.context["endpoints"]
    assert links == {"integration": None, "pending": None, "retrying": None, "failed": None}
    assert reverse("admin:integrations_webhookdelivery_changelist") not in page.content.decode()
    assert client.get(reverse("admin:integrations_webhookdelivery_changelist")).status_code == 403


@pytest.mark.parametrize("who", ["hrh_content_manager", "hrh_administrator"])
def test_every_link_of_the_operations_page_opens_for_whoever_sees_it(
    client, request, who, org, retried_deliveries
):
    # Given events the rules gave up on and an integration with deliveries
    from rules.inbound import HANDOFF_MAX_RETRIES

    inbound(org, timezone.now(), rules_retries=HANDOFF_MAX_RETRIES)
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("admin:operations"))
    html = page.content.decode()
    assert "Acme" in html
    # Then every admin link on it opens for that user: none answers 403
    links = {
        html_unescape(href)
        for href in re.findall(r'href="([^"]+)"', html)
        if href.startswith("/admin/") and "logout" not in href
    }
    assert links
    assert {link: client.get(link).status_code for link in links} == dict.fromkeys(links, 200)
    # And the hand-over is offered only to who may run it
    given_up = "hand them to the rules again" in html
    assert given_up == (who == "hrh_administrator")
