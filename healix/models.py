"""The tenancy core: organizations, users, and the base every tenant-owned model extends."""

import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from healix.api.scopes import Scope
from healix.encryption import EncryptedTextField

__all__ = [
    "ApiAuthFailureWindow",
    "ApiRateWindow",
    "IdempotentRequest",
    "Organization",
    "OrganizationAPIKey",
    "OrganizationOwned",
    "User",
    "UserType",
    "require_same_organization",
]

# An orgId is a token of NATS subjects (healix.<orgId>.<type>), so it may hold neither dots,
# wildcards nor whitespace; lower-case letters, digits and dashes keep it readable in URLs too.
org_id_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,39}\Z",
    "Use 1 to 40 lower-case letters, digits or dashes, starting with a letter or digit.",
)


class Organization(models.Model):
    slug = models.CharField(
        max_length=40,
        unique=True,
        validators=[org_id_validator],
        verbose_name="org id",
        help_text="Short identifier used in bus subjects, for example hrh.",
    )
    name = models.CharField(
        max_length=200,
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
    )

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(slug__regex=r"^[a-z0-9][a-z0-9-]{0,39}$"),
                name="organization_slug_is_subject_token",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class OrganizationOwned(models.Model):
    """A row that belongs to exactly one organization.

    `(organization, id)` is unique so that other tables can hold composite foreign keys
    `(organization_id, x_id) -> x(organization_id, id)`: PostgreSQL itself then refuses a
    reference into another organization (see healix.db.SameScopeForeignKey). A model that no
    table refers to may leave both out (integrations.InboundEvent, written once per message).
    """

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
    )

    # Foreign keys to other OrganizationOwned models that must stay inside the organization.
    # clean() checks them for friendly errors; migrations add the composite keys that enforce them.
    same_organization_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "id"],
                name="%(app_label)s_%(class)s_organization_id_unique",
            ),
        ]

    def clean(self) -> None:
        super().clean()
        require_same_organization(
            self.organization_id,
            {name: getattr(self, name, None) for name in self.same_organization_fields},
        )


def require_same_organization(organization_id: int | None, related: Mapping[str, Any]) -> None:
    """Raise a ValidationError naming each of `related` (field name -> row) that belongs to an
    organization other than `organization_id`. Rows without an organization pass."""
    if organization_id is None:
        return
    errors = {}
    for name, row in related.items():
        if row is None:
            continue
        row_organization_id = row.pk if isinstance(row, Organization) else row.organization_id
        if row_organization_id is not None and row_organization_id != organization_id:
            errors[name] = ValidationError(
                "%(value)s belongs to another organization.",
                code="foreign_organization",
                params={"value": row},
            )
    if errors:
        raise ValidationError(errors)


class UserType(models.TextChoices):
    ADMIN = "ADMIN", "Admin"
    STAFF = "STAFF", "Staff (provider)"
    USER = "USER", "User (patient)"


class HealixUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("user_type", UserType.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person of one organization.

    `user_type` is the product's notion (ADMIN, STAFF, USER); Django's `is_staff` only says
    whether the person may log in to the admin. Superusers operate the platform and may have
    no organization; everybody else belongs to exactly one.
    """

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
        verbose_name="user id",
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    user_type = models.CharField(
        max_length=5,
        choices=UserType.choices,
        default=UserType.USER,
        verbose_name="type",
    )
    is_test = models.BooleanField(
        default=False,
        verbose_name="test user",
        help_text="Events caused by a test user's plans carry isTest: true.",
    )

    objects = HealixUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(organization__isnull=False) | models.Q(is_superuser=True),
                name="user_has_organization_unless_superuser",
            ),
            # Lets plan rows hold composite keys (organization_id, user_id) -> user.
            models.UniqueConstraint(
                fields=["organization", "id"],
                name="user_organization_id_unique",
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if self.organization_id is None and not self.is_superuser:
            raise ValidationError(
                {"organization": "Every user except a superuser belongs to an organization."}
            )

    def __str__(self) -> str:
        full_name = self.get_full_name()
        return f"{full_name} ({self.username})" if full_name else self.username


class OrganizationAPIKeyManager(APIKeyManager):
    def assign_key(self, obj: AbstractAPIKey) -> str:
        key = super().assign_key(obj)
        # The library's id is "<prefix>.<hashed key>": every admin URL, redirect and history
        # link would carry the hash into access logs. The prefix is unique and shown anyway.
        obj.id = obj.prefix
        return key


class OrganizationAPIKey(AbstractAPIKey):
    """A key a partner system sends as `Authorization: Api-Key <key>`; it acts for exactly one
    organization, within its scopes. Only a hash is stored (djangorestframework-api-key): the
    key is shown once. Its id is its prefix (OrganizationAPIKeyManager), never its hash.

    What a key changes through the API is done by its own service account (`user`, made with
    the key), so events name the key's account as `requestedBy`.
    """

    objects = OrganizationAPIKeyManager()

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    scopes = ArrayField(
        models.CharField(max_length=40, choices=Scope.choices),
        default=list,
        blank=True,
        help_text="What the key may do; a request outside them is refused (403).",
    )
    user = models.OneToOneField(
        "healix.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="api_key",
        verbose_name="service account",
        help_text="The user the key acts as; events it causes name it as requestedBy.",
    )
    # The partner whose portal shows the key (docs/portal.md).
    partner = models.ForeignKey(
        "portal.Partner",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="api_keys",
    )
    last_used_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        verbose_name="last used",
        help_text="When the key last authenticated a request (to the minute).",
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scopes__contained_by=Scope.values),
                name="organizationapikey_scopes_known",
            ),
        ]

    def save(self, *args, **kwargs) -> None:
        if self.user_id is None:
            self.user = _service_account(self)
        super().save(*args, **kwargs)


def _service_account(api_key: OrganizationAPIKey) -> User:
    """A user of the key's organization that cannot log in: the actor of the key's writes."""
    account = User(
        username=f"api-key-{api_key.prefix or uuid.uuid4().hex[:8]}",
        first_name="API key",
        last_name=(api_key.name or "")[:150],
        organization_id=api_key.organization_id,
        user_type=UserType.ADMIN,
        is_staff=False,
    )
    account.set_unusable_password()
    account.save()
    return account


class IdempotentRequest(models.Model):
    """The first answer to a POST that carried an `Idempotency-Key`, replayed for a repeat of
    it within IDEMPOTENCY_WINDOW (healix/api/idempotency.py). Keys are the partner's, so they are
    unique per organization, not globally."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
    )
    key = models.CharField(
        max_length=255,
        verbose_name="Idempotency-Key",
    )
    fingerprint = models.CharField(
        max_length=64,
        help_text="SHA-256 of the method, path and body: a repeat must send the same.",
    )
    status_code = models.PositiveSmallIntegerField()
    # Encrypted: the first answer of a webhook's create or rotate-secret holds its secret.
    response_body = EncryptedTextField(
        blank=True,
    )
    response_headers = models.JSONField(
        default=dict,
    )
    created_at = models.DateTimeField(
        auto_now_add=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key"],
                name="idempotentrequest_key_unique_per_organization",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotentrequest_age")]

    def __str__(self) -> str:
        return self.key


class ApiRateWindow(models.Model):
    """How many requests an API key made in its current throttling window
    (healix/api/throttling.py). One row per key, counted with one atomic upsert; the table is
    UNLOGGED (migration): a counter lost in a crash costs nothing, and skipping the WAL keeps
    the per-request write cheap."""

    api_key = models.OneToOneField(
        OrganizationAPIKey,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    window_start = models.DateTimeField()
    requests = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.api_key_id}: {self.requests} since {self.window_start:%H:%M}"


class ApiAuthFailureWindow(models.Model):
    """How many failed key checks one client address made with one key prefix in its current
    throttling window (healix/api/throttling.py): counted apart from the key's own window, so
    that guesses with a key's prefix never spend the key's budget. Prefixes that name no key
    share one row per address (`prefix` empty). UNLOGGED like ApiRateWindow."""

    pk = models.CompositePrimaryKey("client", "prefix")
    client = models.CharField(
        max_length=64,
        help_text="The client's address (REST) or host (bus connect).",
    )
    prefix = models.CharField(
        max_length=8,
        blank=True,
        help_text="The key prefix tried; empty for prefixes that name no key.",
    )
    window_start = models.DateTimeField()
    attempts = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["window_start"], name="apiauthfailure_age")]

    def __str__(self) -> str:
        return f"{self.client} {self.prefix or '(no key)'}: {self.attempts}"
