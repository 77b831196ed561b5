"""Thumbnails of the gallery: each chart type drawn with made-up numbers, so that a non-specialist sees what
they pick before choosing an indicator. The real preview (the builder's "Preview") uses the real figures."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sitaware.assessment.dashboards import svg
from sitaware.assessment.dashboards.gallery import CHARTS

_SAMPLE = [14, 12, 15, 11, 9, 10, 8, 7]
_BOX = '<svg viewBox="0 0 160 80" width="160" height="80" aria-hidden="true" focusable="false">'
_PERIODS = [f"M{i}" for i in range(1, len(_SAMPLE) + 1)]


@lru_cache(maxsize=1)
def _thumbnails() -> dict[str, str]:
    series = [svg.Series("a", [svg.Point(p, float(v)) for p, v in zip(_PERIODS, _SAMPLE, strict=True)]),
              svg.Series("b", [svg.Point(p, float(v) * 0.6) for p, v in zip(_PERIODS, _SAMPLE, strict=True)])]
    corners = [(16.0, 4.0), (18.6, 3.6), (21.5, 4.3), (16.2, 6.1), (18.9, 6.4), (21.2, 6.0), (16.4, 8.2),
               (18.4, 8.6), (21.6, 8.1)]  # a made-up country of four areas, near the Central African Republic's

    def area(first: int, value: float) -> svg.Shape:  # unnamed: a thumbnail has no room for labels
        ring = [corners[first], corners[first + 1], corners[first + 4], corners[first + 3], corners[first]]
        return svg.Shape("", [ring], ring[0], value)

    shapes = [area(0, 12.0), area(1, 5.0), area(3, 8.0), area(4, 3.0)]
    bars = "".join(f'<rect x="0" y="{8 + i * 16}" width="{w}" height="11" fill="#0072B2"/>'
                   for i, w in enumerate((150, 110, 70, 40)))
    cells = "".join(f'<rect x="{4 + c * 38}" y="{6 + r * 18}" width="34" height="14" '
                    f'fill="#{"e8eef5" if r else "c9d6e4"}"/>' for r in range(4) for c in range(4))
    return {
        "card": ('<svg viewBox="0 0 160 80" width="160" height="80" aria-hidden="true" focusable="false">'
                 '<text x="4" y="34" font-size="28" font-weight="700" fill="#1b1b1b">7</text>'
                 '<circle cx="140" cy="20" r="9" fill="#b7791f"/>'
                 f'<g transform="translate(4,48)">{svg.sparkline(_SAMPLE, 150, 26)}</g></svg>'),
        "timeseries": svg.series_chart(_PERIODS, series, target=6.0, width=320, height=160),
        "map": svg.area_map((), (), shapes=shapes, shades=svg.classes([s.value for s in shapes]), width=320,
                            height=180),
        "table": f"{_BOX}{cells}</svg>",
        "bar": f"{_BOX}{bars}</svg>",
    }


def gallery() -> list[dict[str, Any]]:
    thumbs = _thumbnails()
    return [{"key": c.key, "label": c.label, "description": c.description, "thumbnail": thumbs[c.key],
             "max_indicators": c.max_indicators} for c in CHARTS.values()]
