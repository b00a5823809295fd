"""Line charts as inline SVG, drawn on the server: the admin runs offline, so no JavaScript
library and no CDN. One polyline per series over time buckets, with a legend of totals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from healix.admin.operations import Series

__all__ = ["line_chart"]

WIDTH, HEIGHT = 720, 150
# Room for the y-axis labels on the left and the time labels below.
LEFT, BOTTOM, TOP = 40, 18, 6
# Distinguishable for the common colour blindnesses (Okabe-Ito).
COLOURS = ("#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7")


def _points(values: Sequence[int], top: int) -> str:
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    step = plot_width / max(1, len(values) - 1)
    return " ".join(
        f"{LEFT + i * step:.1f},{TOP + plot_height - value / top * plot_height:.1f}"
        for i, value in enumerate(values)
    )


def _time(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def line_chart(title: str, series: Sequence[Series], starts: Sequence[datetime]) -> SafeString:
    """An SVG figure of `series` (values per bucket of `starts`), titled `title`."""
    top = max([1, *(max(s.values, default=0) for s in series)])
    base = HEIGHT - BOTTOM
    lines = format_html_join(
        "",
        '<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"><title>{}</title>'
        "</polyline>",
        (
            (COLOURS[i % len(COLOURS)], _points(s.values, top), s.label)
            for i, s in enumerate(series)
        ),
    )
    legend = format_html_join(
        " ",
        # A swatch drawn in SVG, not a style attribute: the CSP allows no inline style.
        '<span class="ops-legend"><svg class="ops-swatch" width="10" height="10" '
        'aria-hidden="true"><rect width="10" height="10" fill="{}"/></svg> {}: {}</span>',
        ((COLOURS[i % len(COLOURS)], s.label, s.total) for i, s in enumerate(series)),
    )
    middle = starts[len(starts) // 2] if starts else None
    return format_html(
        '<figure class="ops-chart"><figcaption><strong>{}</strong> {}</figcaption>'
        '<svg role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">0</text>'
        '<text x="{}" y="{}" font-size="10">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>'
        "{}</svg></figure>",
        title,
        legend,
        title,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        LEFT,
        base,
        LEFT,
        base,
        WIDTH,
        base,
        LEFT - 4,
        TOP + 8,
        top,
        LEFT - 4,
        base,
        LEFT,
        HEIGHT - 4,
        _time(starts[0]) if starts else "",
        (LEFT + WIDTH) // 2,
        HEIGHT - 4,
        _time(middle) if middle else "",
        WIDTH,
        HEIGHT - 4,
        _time(starts[-1]) if starts else "",
        lines,
    )
