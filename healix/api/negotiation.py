"""Content negotiation of the REST API: DRF's own, its choice remembered."""

from typing import ClassVar

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

__all__ = ["RememberedContentNegotiation"]

# Accept headers are the client's to write: past this many combinations, start afresh.
MAX_REMEMBERED = 256


class RememberedContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, which parses the Accept header and matches it against the view's
    renderers on every request (40 to 50 us of CPU, as much as the feed's own code). Its
    choice depends on nothing else than the header, the format asked for and the renderers,
    so it is kept per process for the combinations seen; what DRF refuses (406, 404) goes
    through DRF every time."""

    _choices: ClassVar[dict[tuple, tuple[int, str]]] = {}

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        asked_format = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (
            request.META.get("HTTP_ACCEPT"),
            asked_format,
            tuple(type(renderer) for renderer in renderers),
        )
        choice = self._choices.get(key)
        if choice is None:
            renderer, media_type = super().select_renderer(request, renderers, format_suffix)
            if len(self._choices) >= MAX_REMEMBERED:
                self._choices.clear()
            index = next(i for i, candidate in enumerate(renderers) if candidate is renderer)
            choice = self._choices[key] = (index, media_type)
        index, media_type = choice
        return renderers[index], media_type
