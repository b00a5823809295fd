"""A batch of inbound events sent over REST (POST /api/v1/inbound/<subject>/batch/): split into
its items, then ingested as the bus ingests a batch, by ingest_batch(), in one transaction.

What the items are: a JSON array's elements (each given to ingest() as its own JSON text), or
NDJSON's lines (each as sent, so a malformed line is stored as a rejection with its raw text,
as the bus stores a malformed message, and the other lines go on). What refuses the whole
batch, before anything is stored, is a BatchRefused: a body that is no JSON array, no items,
more items than HEALIX_INBOUND_BATCH_MAX_ITEMS.
"""

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from healix import strict_json
from healix.models import Organization
from integrations.inbound.results import Message
from integrations.inbound.services import DefinitionCache, ingest_batch
from integrations.models import InboundSource

__all__ = ["NDJSON", "BatchRefused", "ingest_rest_batch", "split_items"]

NDJSON = "application/x-ndjson"


@dataclass
class BatchRefused(Exception):
    """Why a batch as a whole is refused (nothing is stored): a problem's members."""

    status: int
    title: str
    detail: str
    slug: str


def split_items(body: bytes, media_type: str) -> list[bytes | str]:
    """The batch's items, each the body of one inbound message; BatchRefused if none, too
    many, or (JSON) the body is not a JSON array."""
    if media_type == NDJSON:
        # Blank lines (a trailing newline, CRLF line ends) separate, they are no items.
        items: list[bytes | str] = [line for line in body.split(b"\n") if line.strip()]
    else:
        items = [_item_text(value) for value in _array(body)]
    if not items:
        raise BatchRefused(400, "Invalid batch", "The batch holds no events.", "invalid-batch")
    limit = settings.HEALIX_INBOUND_BATCH_MAX_ITEMS
    if len(items) > limit:
        detail = f"{len(items)} events; a batch holds at most {limit}: send them in several."
        raise BatchRefused(413, "Batch too large", detail, "batch-too-large")
    return items


def _array(body: bytes) -> list[Any]:
    try:
        value = strict_json.loads(body)
    except strict_json.StrictJSONError as error:
        detail = f"The body is not valid JSON: {error}."
        raise BatchRefused(400, "Malformed JSON", detail, "malformed-json") from None
    if not isinstance(value, list):
        detail = f"Send a JSON array of events (or NDJSON with Content-Type: {NDJSON})."
        raise BatchRefused(400, "Invalid batch", detail, "invalid-batch")
    return value


def _item_text(value: Any) -> str:
    # Strict JSON already, so dumps gives it back faithfully; ingest() checks it as a body.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ingest_rest_batch(
    organization: Organization, subject: str, items: list[bytes | str]
) -> list[dict[str, Any]]:
    """Ingest the items on `subject` for `organization` (the API key's, never one the items
    name), all committed together; each item's answer, in order: exactly what the single
    POST answers for it (its 202 body, or its problem's members)."""
    messages = [
        Message(organization.pk, subject, item, org_slug=organization.slug) for item in items
    ]
    results = ingest_batch(messages, InboundSource.REST, cache=DefinitionCache())
    return [result.answer() for result in results]
