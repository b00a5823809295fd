"""REST authentication: `Authorization: Api-Key <key>`, each key bound to one organization.

`request.auth` is the OrganizationAPIKey; `organization_of(request)` its organization and
`actor_of(request)` the key's service account (the `actor` of the writes it makes). Keys are
verified against their stored hash (djangorestframework-api-key); revoked and expired keys fail.
`HasOrganizationAPIKey` also checks the key's scopes: a view names the scope each of its
methods needs (`read_scope` for GET/HEAD/OPTIONS, `write_scope` for the others).
"""

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from healix.api.throttling import (
    Counted,
    FailedAttemptsThrottled,
    client_address,
    count_failed_attempt,
    seconds_left,
    window_start,
)
from healix.models import Organization, OrganizationAPIKey, User
from healix.observability.logcontext import note
from healix.prepared import prepared_cursor
from healix.sql import KEY_SQL

__all__ = [
    "KEYWORD",
    "HasOrganizationAPIKey",
    "MissingScope",
    "OrganizationAPIKeyAuthentication",
    "actor_of",
    "note_use",
    "organization_of",
    "required_scope",
    "verified_key",
]

# "Last used" is kept to this precision, so a busy key writes its row once a minute at most
# rather than on every request.
LAST_USE_PRECISION = timedelta(minutes=1)

KEYWORD = "Api-Key"
# What a key's prefix can look like (djangorestframework-api-key: 8 random letters and digits);
# anything else is refused without a lookup.
KEY_PREFIX = re.compile(r"[A-Za-z0-9]{1,8}")


class OrganizationAPIKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: HttpRequest):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # the permission then answers 401 "credentials were not provided"
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != KEYWORD.lower() or not key:  # schemes are case-insensitive (RFC 9110)
            raise AuthenticationFailed(f"Use the header Authorization: {KEYWORD} <key>.")
        api_key = verified_key(key, client_address(request))
        note(org_id=api_key.organization.slug)  # on every log line of the request from here
        note_use(api_key)
        return (None, api_key)

    def authenticate_header(self, request: HttpRequest) -> str:
        # Makes DRF answer 401 (not 403) with WWW-Authenticate when no key was given.
        return KEYWORD


def verified_key(key: str, client: str) -> OrganizationAPIKey:
    """The unrevoked, unexpired key `key` with its organization, sent from `client` (an
    address; also for the bus, see bus/access.py). Otherwise AuthenticationFailed, or
    FailedAttemptsThrottled (429) once `client` failed too often with this prefix this minute:
    a failure is counted for the client and prefix, never for the key."""
    prefix, _, _ = key.partition(".")
    if not KEY_PREFIX.fullmatch(prefix):
        prefix = ""  # names no key; and PostgreSQL text could not even hold a NUL byte of it
    api_key = _usable_key(prefix, key) if prefix else None
    if api_key is None:
        now = timezone.now()
        attempts = count_failed_attempt(client, prefix, now)
        if attempts > settings.HEALIX_API_FAILED_ATTEMPTS_PER_MINUTE:
            raise FailedAttemptsThrottled(seconds_left(now))
        raise AuthenticationFailed("Unknown or revoked API key.")
    if api_key.has_expired:
        raise AuthenticationFailed("This API key has expired.")
    return api_key


def _loaded(model: type[Model], **values: Any) -> Model:
    """An instance as a queryset would have made it from these columns (Model.from_db: the
    fields not given are deferred, and load on first use)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


def _usable_key(prefix: str, key: str) -> OrganizationAPIKey | None:
    """The unrevoked key with this prefix whose secret is `key`'s, and its organization,
    counted for throttling, in one plain query (the ORM's query building would cost more than
    the query itself)."""
    now = timezone.now()
    parameters = {
        "prefix": prefix,
        "hashed_key": OrganizationAPIKey.objects.key_generator.hash(key),
        "window": window_start(now),
        "use_noted_before": now - LAST_USE_PRECISION,
    }
    with prepared_cursor() as cursor:
        cursor.execute(KEY_SQL, parameters, prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None
    pk, name, expiry_date, scopes, user_id, use_to_note, *rest = row
    org_pk, slug, org_name, requests = rest
    organization = _loaded(Organization, id=org_pk, slug=slug, name=org_name)
    # `created` and `last_used_at` are left deferred: no request reads them, and Django loads
    # each timestamp in Python (KEY_SQL answers whether the last use is due instead).
    api_key = _loaded(
        OrganizationAPIKey,
        id=pk,
        prefix=prefix,
        name=name,
        hashed_key=parameters["hashed_key"],
        expiry_date=expiry_date,
        revoked=False,
        organization_id=org_pk,
        scopes=scopes,
        user_id=user_id,
    )
    api_key.organization = organization
    api_key.counted = Counted(now, requests)
    api_key.use_to_note = use_to_note
    return api_key


def note_use(api_key: OrganizationAPIKey) -> None:
    """Record that a key was used, unless verified_key() found its last use within
    LAST_USE_PRECISION (a key loaded otherwise is recorded)."""
    if not getattr(api_key, "use_to_note", True):
        return
    now = timezone.now()
    api_key.last_used_at = now
    api_key.use_to_note = False
    OrganizationAPIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


class MissingScope(PermissionDenied):
    """403 naming the scope the key lacks (the problem's `missingScope` member)."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"This API key lacks the scope {scope}.")
        self.problem_members = {"missingScope": scope}


def required_scope(view, method: str) -> str | None:
    """The scope `view` needs for `method`, or None when it needs none."""
    attribute = "read_scope" if method in SAFE_METHODS else "write_scope"
    return getattr(view, attribute, None)


class HasOrganizationAPIKey(BasePermission):
    """An organization API key with the scope the view names for the method."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, OrganizationAPIKey):
            return False
        scope = required_scope(view, request.method)
        if scope is not None and scope not in request.auth.scopes:
            raise MissingScope(scope)
        return True


def organization_of(request) -> Organization:
    return request.auth.organization


def actor_of(request) -> User:
    """The key's service account, which the services take as the acting user."""
    return User.objects.get(pk=request.auth.user_id)
