"""Values as the admin's lists show them, short enough that every column fits the window."""

from datetime import datetime

from django.utils import timezone

__all__ = ["short_time"]


def short_time(value: datetime | None) -> str:
    """2026-12-04 12:49:05 in the current time zone; "-" for none."""
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
