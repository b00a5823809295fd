"""Partners and their portal sessions.

A Partner is a named integrator of one organization: it owns API keys and HTTP integrations
(nullable foreign keys on both, kept inside the organization by composite keys). A
PortalSession is what a magic link starts: limited to one partner, read-only or read-write,
until it expires or is revoked. Only the hash of the link's token is stored."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from healix.models import OrganizationOwned
from templates.models import owned_constraints

__all__ = ["Partner", "PartnerSubject", "PortalAccess", "PortalSession"]


class Partner(OrganizationOwned):
    """Someone who integrates with the organization: its keys and webhooks are its own."""

    name = models.CharField(
        max_length=200,
        help_text="Who the partner is, for example Acme Scheduling.",
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
    )

    class Meta:
        ordering = ["organization", "name"]
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="partner_name_unique_per_organization",
            ),
        )

    def __str__(self) -> str:
        return self.name


class PartnerSubject(OrganizationOwned):
    """An inbound subject the partner sends: its schema and its inbound events are the
    partner's in the portal. A subject belongs to one partner of its organization at most, so
    no partner sees another's inbound events (they record no key, and the bus cannot say which
    key published a message: the subject is what tells them apart)."""

    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        related_name="subjects",
    )
    subject = models.CharField(
        max_length=200,
    )

    same_organization_fields = ("partner",)

    class Meta:
        ordering = ["subject"]
        constraints = owned_constraints(
            models.UniqueConstraint(
                fields=["organization", "subject"],
                name="partnersubject_one_partner_per_subject",
            ),
        )

    def __str__(self) -> str:
        return self.subject


class PortalAccess(models.TextChoices):
    READ_ONLY = "read-only", "Read only"
    READ_WRITE = "read-write", "Read and write"


class PortalSession(OrganizationOwned):
    """One magic link and the portal session it starts, both ending at `expires_at`."""

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
    )
    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        related_name="portal_sessions",
    )
    access = models.CharField(
        max_length=10,
        choices=PortalAccess.choices,
        default=PortalAccess.READ_ONLY,
    )
    # SHA-256 of the link's token: the token itself is shown once, to whoever issued it.
    token_hash = models.CharField(
        max_length=64,
        unique=True,
        editable=False,
    )
    # Who acted, like every created_by: not kept in the organization (a superuser may issue).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="issued by",
        help_text="The administrator, or the API key's service account.",
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
        verbose_name="issued at",
    )
    expires_at = models.DateTimeField(
        help_text="The link, and the session it starts, end then.",
    )
    used_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the link was followed (once only).",
    )
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
    )

    same_organization_fields = ("partner",)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "portal session"
        constraints = owned_constraints(
            models.CheckConstraint(
                condition=models.Q(access__in=PortalAccess.values),
                name="portalsession_access_known",
            ),
        )

    def __str__(self) -> str:
        return f"{self.partner} ({self.access}) until {self.expires_at:%Y-%m-%d %H:%M}"

    @property
    def can_write(self) -> bool:
        return self.access == PortalAccess.READ_WRITE

    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
