"""Tiny inline SVG charts (no JavaScript, no library): sparklines of counts and step lines of stock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape


def per_minute(moments: Sequence[datetime], *, end: datetime, minutes: int = 60) -> list[int]:
    """Counts per minute for the ``minutes`` minutes before ``end`` (oldest first)."""
    counts = [0] * minutes
    start = end - timedelta(minutes=minutes)
    for m in moments:
        if start <= m < end:
            counts[min(minutes - 1, int((m - start).total_seconds() // 60))] += 1
    return counts


def sparkline(values: Sequence[float], *, width: int = 120, height: int = 24, title: str = "") -> str:
    """An SVG polyline scaled to the values' own maximum; a flat line at the bottom when all are zero."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 1 - (v / top) * (height - 2):.1f}" for i, v in enumerate(values))
    label = escape(title or f"max {max(values):g}")
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{label}"><title>{label}</title><polyline fill="none" stroke="currentColor" '
            f'stroke-width="1.5" points="{points}"/></svg>')  # fmt: skip


def step_chart(points: Sequence[tuple[datetime, float]], *, width: int = 140, height: int = 36, title: str = "") -> str:
    """Values over time as a step line with dots (one per bucket), labelled min–max."""
    if not points:
        return ""
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    span = (hi - lo) or 1
    n = len(points)
    step = (width - 8) / max(1, n - 1)

    def y(v: float) -> float:
        return height - 4 - (v - lo) / span * (height - 8) if hi != lo else height / 2

    path, dots = [], []
    for i, (_, v) in enumerate(points):
        x = 4 + i * step
        path.append(f"M{x:.1f} {y(v):.1f}" if i == 0 else f"H{x:.1f} V{y(v):.1f}")
        when = escape(points[i][0].isoformat())
        dots.append(f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="1.8"><title>{when}: {v:g}</title></circle>')
    label = escape(title or f"{lo:g}–{hi:g}")
    return (f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{label}"><path fill="none" stroke="currentColor" stroke-width="1.2" d="{" ".join(path)}"/>'
            f'{"".join(dots)}</svg>')  # fmt: skip
