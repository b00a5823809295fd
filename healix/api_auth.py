"""REST authentication: `Authorization: Api-Key <key>`, each key bound to one organization.

`request.auth` is the OrganizationAPIKey; `organization_of(request)` its organization. Keys are
verified against their stored hash (djangorestframework-api-key); revoked and expired keys fail.
"""

from django.db import connection
from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from healix.models import Organization, OrganizationAPIKey

__all__ = [
    "KEYWORD",
    "HasOrganizationAPIKey",
    "OrganizationAPIKeyAuthentication",
    "organization_of",
]

KEYWORD = "Api-Key"


class OrganizationAPIKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: HttpRequest):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # the permission then answers 401 "credentials were not provided"
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != KEYWORD.lower() or not key:  # schemes are case-insensitive (RFC 9110)
            raise AuthenticationFailed(f"Use the header Authorization: {KEYWORD} <key>.")
        prefix, _, _ = key.partition(".")
        api_key = _usable_key(prefix)
        if api_key is None or not api_key.is_valid(key):
            raise AuthenticationFailed("Unknown or revoked API key.")
        if api_key.has_expired:
            raise AuthenticationFailed("This API key has expired.")
        return (None, api_key)

    def authenticate_header(self, request: HttpRequest) -> str:
        # Makes DRF answer 401 (not 403) with WWW-Authenticate when no key was given.
        return KEYWORD


KEY_SQL = f"""
SELECT k.id, k.name, k.hashed_key, k.expiry_date, k.created, o.id, o.slug, o.name
FROM {OrganizationAPIKey._meta.db_table} k
JOIN {Organization._meta.db_table} o ON o.id = k.organization_id
WHERE k.prefix = %s AND NOT k.revoked
"""


def _usable_key(prefix: str) -> OrganizationAPIKey | None:
    """The unrevoked key with this prefix and its organization, in one plain query: every
    request pays for it, and the ORM's query building costs more than the query itself."""
    with connection.cursor() as cursor:
        cursor.execute(KEY_SQL, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, name, hashed_key, expiry_date, created, org_pk, slug, org_name = row
    organization = Organization(pk=org_pk, slug=slug, name=org_name)
    api_key = OrganizationAPIKey(
        id=pk,
        prefix=prefix,
        name=name,
        hashed_key=hashed_key,
        expiry_date=expiry_date,
        created=created,
        revoked=False,
        organization=organization,
    )
    api_key._state.adding = False
    return api_key


class HasOrganizationAPIKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, OrganizationAPIKey)


def organization_of(request) -> Organization:
    return request.auth.organization
