"""Partners and their portal sessions: the functions the admin, the REST API and the portal's
own views call.

issue_session() makes a magic link's token (shown once; only its SHA-256 is kept);
start_session() spends it, once; live_session() reads a started session back on every request;
revoke_session() ends one. set_members() gives a partner its keys, HTTP integrations and inbound
subjects (subject_problem() says why a subject cannot be its own)."""

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from healix.models import OrganizationAPIKey, User
from integrations.models import HttpIntegration, IntegrationDefinition
from portal.models import Partner, PartnerSubject, PortalAccess, PortalSession

__all__ = [
    "IssuedLink",
    "LinkRefused",
    "issue_session",
    "live_session",
    "revoke_session",
    "set_members",
    "start_session",
    "subject_problem",
    "token_hash",
]

# 32 random bytes: as strong as the API keys, and short enough for a URL.
TOKEN_BYTES = 32


class LinkRefused(Exception):
    """The link names no session, or one that was used, revoked or has expired. One message
    for all: whoever holds a wrong link learns nothing from which."""

    def __str__(self) -> str:
        return "This link is not valid: it was used already, revoked, or has expired."


@dataclass(frozen=True)
class IssuedLink:
    session: PortalSession
    token: str  # shown once, to the issuer

    @property
    def path(self) -> str:
        return f"/portal/start/{self.token}/"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_session(
    partner: Partner,
    *,
    access: str = PortalAccess.READ_ONLY,
    seconds: int | None = None,
    issued_by: User | None = None,
) -> IssuedLink:
    """A new single-use link for `partner`, valid (and its session) for `seconds`
    (HEALIX_PORTAL_SESSION_SECONDS by default, at most HEALIX_PORTAL_MAX_SESSION_SECONDS)."""
    seconds = settings.HEALIX_PORTAL_SESSION_SECONDS if seconds is None else seconds
    longest = settings.HEALIX_PORTAL_MAX_SESSION_SECONDS
    if not 60 <= seconds <= longest:
        raise ValidationError({"seconds": f"Between 60 and {longest} seconds."})
    if access not in PortalAccess.values:
        raise ValidationError({"access": f"One of {', '.join(PortalAccess.values)}."})
    foreign = issued_by is not None and issued_by.organization_id != partner.organization_id
    if foreign and not issued_by.is_superuser:
        raise ValidationError("The partner belongs to another organization.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session = PortalSession.objects.create(
        organization_id=partner.organization_id,
        partner=partner,
        access=access,
        token_hash=token_hash(token),
        created_by=issued_by,
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )
    return IssuedLink(session, token)


@transaction.atomic
def start_session(token: str) -> PortalSession:
    """Spend the link's token: the session it starts, or LinkRefused. Locked, so two clicks
    at once start one session, not two."""
    now = timezone.now()
    session = (
        PortalSession.objects.select_for_update()
        .select_related("partner")
        .filter(token_hash=token_hash(token), used_at__isnull=True, revoked_at__isnull=True)
        .filter(expires_at__gt=now)
        .first()
    )
    if session is None:
        raise LinkRefused
    session.used_at = now
    session.save(update_fields=["used_at"])
    return session


def live_session(session_id: str | None) -> PortalSession | None:
    """The started, unrevoked, unexpired session of this id with its partner, else None."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        return None
    return (
        PortalSession.objects.select_related("partner", "partner__organization")
        .filter(pk=pk, used_at__isnull=False, revoked_at__isnull=True)
        .filter(expires_at__gt=timezone.now())
        .first()
    )


def revoke_session(session: PortalSession, at: datetime | None = None) -> bool:
    """End the session (and its link, if unused) at once; False if it had ended already."""
    return bool(
        PortalSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=at or timezone.now()
        )
    )


@transaction.atomic
def subject_problem(partner: Partner, subjects: Iterable[str]) -> str:
    """Why these subjects cannot all be the partner's ("" when they can): each must be one an
    integration of its organization listens to, and no other partner's."""
    subjects = set(subjects)
    known = set(
        IntegrationDefinition.objects.filter(organization_id=partner.organization_id)
        .filter(subject__in=subjects)
        .values_list("subject", flat=True)
    )
    problems = [
        f"no integration of the organization listens to {subject}"
        for subject in sorted(subjects - known)
    ]
    taken = (
        PartnerSubject.objects.filter(organization_id=partner.organization_id)
        .filter(subject__in=subjects)
        .exclude(partner_id=partner.pk)
        .select_related("partner")
        .order_by("subject")
    )
    problems += [f"{row.subject} is already {row.partner}'s" for row in taken]
    return "; ".join(problems) + "." if problems else ""


@transaction.atomic
def set_members(
    partner: Partner,
    *,
    integrations: Iterable[HttpIntegration] | None = None,
    api_keys: Iterable[OrganizationAPIKey] | None = None,
    subjects: Iterable[str] | None = None,
) -> None:
    """Make exactly these the partner's integrations / keys / inbound subjects (None leaves
    one as it is). Rows of another organization are refused (and by PostgreSQL's composite
    keys); so is a subject another partner has (and by a unique constraint)."""
    if subjects is not None:
        subjects = sorted(set(subjects))
        problem = subject_problem(partner, subjects)
        if problem:
            raise ValidationError({"subjects": problem})
        partner.subjects.exclude(subject__in=subjects).delete()
        kept = set(partner.subjects.values_list("subject", flat=True))
        PartnerSubject.objects.bulk_create(
            PartnerSubject(organization_id=partner.organization_id, partner=partner, subject=name)
            for name in subjects
            if name not in kept
        )
    for kind, rows, model in (
        ("integrations", integrations, HttpIntegration),
        ("api_keys", api_keys, OrganizationAPIKey),
    ):
        if rows is None:
            continue
        rows = list(rows)
        foreign = [str(row) for row in rows if row.organization_id != partner.organization_id]
        if foreign:
            raise ValidationError({kind: f"Of another organization: {', '.join(foreign)}."})
        model.objects.filter(partner=partner).exclude(pk__in=[r.pk for r in rows]).update(
            partner=None
        )
        model.objects.filter(pk__in=[r.pk for r in rows]).update(partner=partner)
