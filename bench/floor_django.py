"""The REST figures' second reference, between Healix and the ceiling: the ceiling's own work
(bench/ceiling_wsgi.py: the key looked up by prefix, the feed's SELECT, or the body parsed and
one INSERT) done by a DRF view behind Healix's Django, with nothing of Healix's API around it.

bench/api.py serves it with the Procfile's own web command line (healix.wsgi, gunicorn, the
same middleware list and DRF settings) and DJANGO_SETTINGS_MODULE=bench.floor_settings, whose
only change is this URLconf. The view has no authentication, permission or throttle classes
and validates nothing: what Healix's request costs beyond this floor is Healix's own API code
(the hashed key check with its throttle count, scopes, validation, routing, the idempotency
record, logs and metrics); what the floor costs beyond the ceiling is Django's and DRF's
request cycle, which Healix does not write.

Its statements run on Django's connection, prepared once per connection as Healix prepares
its hot statements (healix/prepared.py) and as the ceiling's psycopg prepares them.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from bench.ceiling_wsgi import feed_answer, inbound_answer
from healix.prepared import prepared_cursor

__all__ = ["urlpatterns"]


def _execute(sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> list[tuple]:
    with prepared_cursor() as cursor:
        cursor.execute(sql, parameters, prepare=True)
        return cursor.fetchall() if cursor.description else []


class _Bare(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()


def _response(answer: tuple[int, bytes]) -> HttpResponse:
    status, body = answer
    return HttpResponse(body, status=status, content_type="application/json")


class FloorFeed(_Bare):
    def get(self, request: Request) -> HttpResponse:
        authorization = request.META.get("HTTP_AUTHORIZATION", "")
        return _response(feed_answer(_execute, authorization, request.META["QUERY_STRING"]))


class FloorInbound(_Bare):
    def post(self, request: Request, subject: str) -> HttpResponse:
        authorization = request.META.get("HTTP_AUTHORIZATION", "")
        return _response(inbound_answer(_execute, authorization, subject, request.body))


urlpatterns = [
    path("api/v1/events/", FloorFeed.as_view()),
    path("api/v1/inbound/<str:subject>/", FloorInbound.as_view()),
]
