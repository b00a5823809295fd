"""How long a portal session's record is kept after it ended (healix/retention.py): who was
let in, by whom, until when. Live sessions are never pruned."""

from healix.retention import DAYS, Kind, register
from portal.models import PortalSession

register(
    Kind(
        "ended portal sessions",
        PortalSession,
        "HEALIX_RETENTION_PORTAL_SESSION_DAYS",
        DAYS,
        # Few rows (a link an hour at most per partner): no index of its own.
        lambda cutoff: PortalSession.objects.filter(expires_at__lt=cutoff).order_by(),
    ),
)
