"""The integrations app's admin: its two jobs register their pages in their own packages."""

from integrations.inbound import admin as inbound_admin  # noqa: F401
from integrations.webhooks import admin as webhooks_admin  # noqa: F401
