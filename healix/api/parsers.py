"""The REST API's only request parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): JSON read by
healix/strict_json.py, the parser inbound payloads go through too. What it refuses is a 400
problem of type `malformed-json` naming the reason, before any view code runs."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from healix import strict_json

__all__ = ["MalformedJSON", "StrictJSONParser"]


class MalformedJSON(ParseError):
    """A ParseError whose problem names the body (`#`) in `errors`, as inbound's does."""

    def __init__(self, reason: str) -> None:
        detail = f"The body is not valid JSON: {reason}."
        super().__init__(detail)
        self.problem_members = {"errors": [{"pointer": "#", "detail": detail}]}


class StrictJSONParser(JSONParser):
    """DRF's JSONParser (so DRF keeps `request.body` readable after parsing), parsing
    strictly."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # JSON is UTF-8 (RFC 8259); another declared charset does not change the bytes.
        try:
            return strict_json.loads(stream.read())
        except strict_json.StrictJSONError as error:
            raise MalformedJSON(str(error)) from None
