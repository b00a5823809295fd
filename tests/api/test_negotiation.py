"""The API's content negotiation chooses as DRF's own does, remembering the choice."""

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from healix.api.negotiation import RememberedContentNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/*;q=0.5, text/html",
    "text/html",
    "text/plain",
]


def choose(negotiation, accept, renderers):
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    request = Request(APIRequestFactory().get("/api/v1/events/", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    return renderers.index(renderer), media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("renderer_classes", [[JSONRenderer], [BrowsableAPIRenderer, JSONRenderer]])
def test_the_same_choice_as_drf(accept, renderer_classes):
    renderers = [renderer() for renderer in renderer_classes]
    expected = choose(DefaultContentNegotiation(), accept, renderers)
    for _ in range(2):  # the second time from what the first remembered
        assert choose(RememberedContentNegotiation(), accept, renderers) == expected
    if accept == "text/plain":
        assert expected == "406"
