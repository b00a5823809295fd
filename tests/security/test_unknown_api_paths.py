"""A hostile partner of organization B probes URLs under /api/ that name nothing, with every
method: each is a 404 problem (never Django's HTML CSRF page, never a redirect that drops the
body), and organization A's data is untouched. A URL that only lacks its trailing slash says
which URL was meant."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
NOT_FOUND = "https://healix.me/problems/not-found"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
UNKNOWN = ["/api/", "/api/v1/nothing-here/", "/api/v2/inbound/aiEngineTimeSlot/", "/api/v1/x"]
# Paths that exist with a trailing slash: the problem names that one.
WITHOUT_SLASH = ["/api/v1/plans", "/api/v1/inbound/aiEngineTimeSlot", "/api/v1/webhooks"]


def partner(target=None) -> Client:
    """A client as a partner's system is: it sends no CSRF token (Django's test client
    skips the CSRF check unless told to enforce it)."""
    headers = {"Authorization": f"Api-Key {target.key}"} if target else {}
    return Client(enforce_csrf_checks=True, headers=headers)


def call(client, method: str, path: str):
    body = '{"planId": "x"}' if method in ("POST", "PUT", "PATCH") else None
    if body is None:
        return client.generic(method, path)
    return client.generic(method, path, body, content_type="application/json")


def assert_not_found(response) -> dict | None:
    assert response.status_code == 404, response.content[:300]
    assert response["Content-Type"] == PROBLEM
    if response.request["REQUEST_METHOD"] == "HEAD":
        return None
    problem = response.json()
    assert (problem["type"], problem["status"]) == (NOT_FOUND, 404)
    return problem


@pytest.mark.parametrize("path", UNKNOWN + WITHOUT_SLASH)
@pytest.mark.parametrize("method", METHODS)
def test_a_url_naming_nothing_is_a_404_problem_for_every_method(method, path, world, other_world):
    # Given A's data as it is
    ours = world.fingerprint()
    # When B's partner calls a URL under /api/ that names nothing (with its key)
    response = call(partner(other_world), method, path)
    # Then it is a 404 problem, not an HTML page, and A's data did not change
    assert_not_found(response)
    assert world.fingerprint() == ours


@pytest.mark.parametrize("method", METHODS)
def test_without_a_key_it_is_the_same_404_problem(method, world):
    assert_not_found(call(partner(), method, "/api/v1/nothing-here/"))
    assert_not_found(call(partner(), method, "/api/v1/plans"))


@pytest.mark.parametrize("path", WITHOUT_SLASH)
def test_a_missing_trailing_slash_names_the_url_meant(path, other_world):
    # When B's partner posts to a URL without its trailing slash
    problem = assert_not_found(call(partner(other_world), "POST", path))
    # Then the problem says which URL exists, and nothing was posted there
    assert f"Did you mean {path}/?" in problem["detail"]


def test_a_url_naming_nothing_still_says_so_without_a_slash_hint(other_world):
    problem = assert_not_found(call(partner(other_world), "POST", "/api/v1/nothing-here"))
    assert "Did you mean" not in problem["detail"]
