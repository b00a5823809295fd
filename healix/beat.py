"""Celery beat that never runs twice at once (issue 19): every host may run beat, one ticks.

`SingleBeatScheduler` (CELERY_BEAT_SCHEDULER) sends due tasks only while its process holds the
beat lock (healix/leader.py); the others check every HEALIX_BEAT_STANDBY_SECONDS and take over
when the active one's session ends. A beat that takes over sends at once what its own
schedule file says is due: every scheduled task is a sweep or a tick that finds its work in the
database and does it once, so one sent early is harmless and one sent late is a delay.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

from healix.leader import LeaderLock

__all__ = ["BEAT_LOCK_KEY", "SingleBeatScheduler"]

logger = logging.getLogger(__name__)

# The active beat's advisory lock (an arbitrary key, unique within Healix; the relay's is
# events.relay.RELAY_LOCK_KEY).
BEAT_LOCK_KEY = 0x4845_4C58_0002


class SingleBeatScheduler(PersistentScheduler):
    """PersistentScheduler whose tick sends nothing unless this beat holds the lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock = LeaderLock(BEAT_LOCK_KEY, "beat")
        self.active: bool | None = None  # not yet tried
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self.lock.held():
            if self.active is not False:
                logger.info("beat: standing by (another beat holds the lock)")
            self.active = False
            return settings.HEALIX_BEAT_STANDBY_SECONDS
        self.active = True
        return min(super().tick(*args, **kwargs), settings.HEALIX_BEAT_STANDBY_SECONDS)

    def close(self) -> None:
        super().close()
        self.lock.release()
