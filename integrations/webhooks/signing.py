"""Webhook signatures per the Standard Webhooks specification, with the `standardwebhooks`
library: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

During a secret rotation's overlap both the new and the previous secret sign, as the
specification allows (space-separated signatures): a receiver holding either one verifies.
"""

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

__all__ = ["SECRET_BYTES", "SECRET_PREFIX", "new_secret", "signature_header", "signing_headers"]

SECRET_PREFIX = "whsec_"
# 32 random bytes: the HMAC-SHA256 key length; Standard Webhooks asks for 24 to 64.
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh `whsec_<base64>` secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_header(
    signing_secrets: Sequence[str], message_id: str, timestamp: datetime, body: str
) -> str:
    """The webhook-signature value: one `v1,<sig>` per secret, space-separated."""
    return " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body)
        for secret in signing_secrets
    )


def signing_headers(
    signing_secrets: Sequence[str], message_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """webhook-id, webhook-timestamp (UNIX seconds) and webhook-signature for one request."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(signing_secrets, message_id, timestamp, body),
    }
