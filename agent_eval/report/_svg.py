"""Inline SVG charts, written by hand: histograms and a per-tag bar chart.

Every text that reaches the markup goes through `escape`; colours come from CSS classes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ._format import fmt_ms, fmt_rel

__all__ = ["Series", "histogram", "latency_chart", "score_chart", "tag_chart"]

_W, _H = 440, 210
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 10, 26, 34


@dataclass(frozen=True, slots=True)
class Series:
    """One side of a chart: its label, its CSS class and its values."""

    name: str
    css: str
    values: Sequence[float]


def _counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    for v in values:
        counts[min(max(bisect_right(edges, v) - 1, 0), len(counts) - 1)] += 1
    return counts


def _legend(series: Sequence[Series]) -> list[str]:
    out, x = [], _LEFT
    for s in series:
        out.append(f'<rect class="{s.css}" x="{x}" y="8" width="10" height="10" rx="2"/>')
        out.append(f'<text class="legend" x="{x + 14}" y="17">{escape(s.name)} (n={len(s.values)})</text>')
        x += 24 + 7 * len(s.name) + 40
    return out


def histogram(series: Sequence[Series], edges: Sequence[float], labels: Sequence[str], title: str) -> Markup:
    """Grouped bars: one group per bin, one bar per series; `labels` name every other edge."""
    counts = [_counts(s.values, edges) for s in series]
    top = max([1] + [c for cs in counts for c in cs])
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    nbins = len(edges) - 1
    group_w = plot_w / nbins
    bar_w = max(1.0, (group_w - 2) / max(1, len(series)))
    parts = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        *_legend(series),
    ]
    for frac in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - frac)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{_LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{round(top * frac)}</text>')
    for b in range(nbins):
        for si, s in enumerate(series):
            c = counts[si][b]
            h = plot_h * c / top
            x = _LEFT + b * group_w + 1 + si * bar_w
            tip = f"{s.name}: {c} in [{labels[b]}, {labels[b + 1]})"
            parts.append(
                f'<rect class="{s.css}" x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(tip)}</title></rect>'
            )
    step = max(1, nbins // 5)
    for b in range(0, nbins + 1, step):
        x = _LEFT + b * group_w
        parts.append(f'<text class="tick" x="{x:.1f}" y="{_H - _BOTTOM + 14}" text-anchor="middle">{escape(labels[b])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def score_chart(base: Sequence[float] | None, cand: Sequence[float]) -> Markup:
    """Histogram of case scores in ten bins over [0, 1]."""
    edges = [i / 10 for i in range(11)]
    edges[-1] = 1.0000001  # a perfect score belongs to the last bin
    labels = [f"{i / 10:.1f}" for i in range(11)]
    series = ([Series("baseline", "bar-base", base)] if base is not None else []) + [
        Series("candidate", "bar-cand", cand)
    ]
    return histogram(series, edges, labels, "Distribution of case scores")


def latency_chart(base: Sequence[float] | None, cand: Sequence[float]) -> Markup | None:
    """Histogram of run latencies up to the 99th percentile; slower runs fall in the last bin."""
    values = sorted([*cand, *(base or [])])
    if not values:
        return None
    high = values[min(len(values) - 1, int(0.99 * (len(values) - 1)))] or values[-1] or 1.0
    nbins = 16
    edges = [high * i / nbins for i in range(nbins + 1)]
    edges[-1] = float("inf")
    labels = [fmt_ms(e) for e in edges[:-1]] + ["max"]
    series = ([Series("baseline", "bar-base", base)] if base else []) + [Series("candidate", "bar-cand", cand)]
    return histogram(series, edges, labels, "Distribution of run latency")


def tag_chart(changes: Sequence[tuple[str, float | None, float | None]], limit: int = 25) -> Markup | None:
    """Horizontal bars of each tag's relative score change; (tag, change, limit) in display order."""
    rows = [(t, r, lim) for t, r, lim in changes if r is not None][:limit]
    if not rows:
        return None
    row_h, label_w, width = 20, 150, _W
    height = _TOP + row_h * len(rows) + 10
    span = max([0.01] + [abs(r) for _, r, _ in rows] + [lim for *_, lim in rows if lim is not None])
    mid = label_w + (width - label_w - 50) / 2
    half = (width - label_w - 50) / 2
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="Score change per tag">',
        "<title>Relative score change per tag</title>",
        f'<text class="legend" x="{label_w}" y="16">relative change of the mean case score</text>',
        f'<line class="axis" x1="{mid:.1f}" x2="{mid:.1f}" y1="{_TOP - 4}" y2="{height - 6}"/>',
    ]
    for i, (tag, rel, lim) in enumerate(rows):
        y = _TOP + i * row_h
        w = (half - 48) * abs(rel) / span  # leave room for the value label beside the longest bar
        x = mid if rel >= 0 else mid - w
        css = "bar-good" if rel > 0 else "bar-bad" if rel < 0 else "bar-base"
        name = tag if len(tag) <= 22 else tag[:21] + "…"
        parts.append(f'<text class="tick" x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(name)}</text>')
        parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 6}">'
            f"<title>{escape(tag)}: {escape(fmt_rel(rel))}</title></rect>"
        )
        vx = mid + (w + 4 if rel >= 0 else -w - 4)
        anchor = "start" if rel >= 0 else "end"
        parts.append(f'<text class="tick" x="{vx:.1f}" y="{y + 13}" text-anchor="{anchor}">{escape(fmt_rel(rel))}</text>')
        if lim is not None:
            lx = mid - (half - 48) * lim / span
            parts.append(f'<line class="limit" x1="{lx:.1f}" x2="{lx:.1f}" y1="{y + 1}" y2="{y + row_h - 1}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
