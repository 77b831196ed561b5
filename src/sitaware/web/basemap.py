"""The mission's basemap (SITAWARE_BASEMAP): a GeoJSON, MBTiles or PMTiles file, read on this machine only.

GeoJSON is served whole by `views.basemap`. MBTiles (SQLite) and PMTiles archives are opened here and their tiles
served one by one by `views.tile` at `/map/tiles/<z>/<x>/<y>.<ext>`, so the browser never needs a tile server, a
Range-capable reader or anything from outside. `describe()` raises `BasemapError` with a message an operator can act
on; the Django system check (`check_basemap`) shows it at start-up, and the pages fall back to the shipped countries.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import mmap
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core import checks
from django.utils.html import escape, strip_tags

GEOJSON_SUFFIXES = (".geojson", ".json")
TILE_SUFFIXES = {".mbtiles": "mbtiles", ".pmtiles": "pmtiles"}
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "pbf": "application/x-protobuf"}
MAX_ZOOM = 24  # beyond this MapLibre does not ask; a path asking for more is not a tile
GZIP_MAGIC = b"\x1f\x8b"
DIRECTORY_CACHE = 512  # decoded PMTiles directories kept per file (a leaf holds thousands of tiles)


class BasemapError(Exception):
    """SITAWARE_BASEMAP names a file that cannot be used; the message says what to do."""


@dataclass
class TileSet:
    """An opened MBTiles or PMTiles file and what the map needs to know about it."""

    kind: str  # "mbtiles" or "pmtiles"
    path: Path
    format: str  # "png", "jpg", "webp" (raster) or "pbf" (vector)
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float] | None
    attribution: str  # plain text (MBTiles may carry HTML: tags are dropped, never rendered)
    name: str
    vector_layers: list[str]
    version: str  # changes whenever the file does: the tiles' ETag and the URL's ?v=
    tile_size: int = 256
    warnings: list[str] = field(default_factory=list)  # usable, but something an operator should fix
    _reader: Any = field(default=None, repr=False)

    @property
    def vector(self) -> bool:
        return self.format == "pbf"

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's stored bytes (gzipped for most vector tiles), or None when the file has no such tile."""
        if not (0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
            return None
        return self._reader.tile(z, x, y)


# ---------------------------------------------------------------- MBTiles


class _MBTilesReader:
    """Read-only SQLite, one connection per thread (sqlite3 connections must not be shared between threads)."""

    def __init__(self, path: Path) -> None:
        self.uri = f"file:{quote(str(path))}?mode=ro"
        self.local = threading.local()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = sqlite3.connect(self.uri, uri=True, check_same_thread=False)
        return conn

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        # MBTiles rows are numbered TMS-style, from the south: flip the XYZ row the browser asks for.
        row = self.connection().execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(GZIP_MAGIC) or (data and data[0] == 0x1A):  # gzip, or a protobuf layer field
        return "pbf"
    return None


def _png_width(data: bytes) -> int | None:
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big")
    return None


def _bounds(value: Any) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(v) for v in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        return None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        return None
    return (west, south, east, north)


def _text(value: Any) -> str:
    return html.unescape(strip_tags(str(value or ""))).strip()


def _open_mbtiles(path: Path, version: str) -> TileSet:
    reader = _MBTilesReader(path)
    try:
        conn = reader.connection()
        meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
        first = conn.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
        zooms = conn.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        plan = " ".join(str(row[-1]) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT tile_data FROM tiles WHERE zoom_level = 0 AND tile_column = 0 AND tile_row = 0"))
    except sqlite3.Error as exc:
        raise BasemapError(f"SITAWARE_BASEMAP {path} is not a readable MBTiles file (SQLite with `metadata` and "
                           f"`tiles` tables): {exc}") from exc
    if first is None or first[0] is None:
        raise BasemapError(f"SITAWARE_BASEMAP {path} holds no tiles")
    sample = bytes(first[0])
    fmt = str(meta.get("format") or _sniff(sample) or "").lower()
    fmt = {"jpeg": "jpg", "mvt": "pbf"}.get(fmt, fmt)
    if fmt not in CONTENT_TYPES:
        raise BasemapError(f"SITAWARE_BASEMAP {path}: tile format {fmt or 'unknown'!r} is not supported; "
                           f"use png, jpg, webp or pbf (vector) tiles")
    layers: list[str] = []
    if fmt == "pbf":
        try:
            layers = [str(layer["id"]) for layer in json.loads(meta.get("json") or "{}").get("vector_layers", [])]
        except (ValueError, TypeError, KeyError, AttributeError):
            layers = []
    warnings = []
    if "SEARCH" not in plan.upper():
        warnings.append(f"SITAWARE_BASEMAP {path}: the tiles table has no index on (zoom_level, tile_column, "
                        f"tile_row), so every tile reads the whole file; add one with `CREATE UNIQUE INDEX tile_index "
                        f"ON tiles (zoom_level, tile_column, tile_row)`")
    return TileSet(
        kind="mbtiles", warnings=warnings, path=path, format=fmt,
        minzoom=_int(meta.get("minzoom"), zooms[0] or 0), maxzoom=_int(meta.get("maxzoom"), zooms[1] or 0),
        bounds=_bounds(meta.get("bounds")), attribution=_text(meta.get("attribution")),
        name=_text(meta.get("name")) or path.stem, vector_layers=layers, version=version,
        tile_size=_png_width(sample) if _png_width(sample) in (256, 512) else 256, _reader=reader,
    )


def _int(value: Any, default: int) -> int:
    try:
        return max(0, min(MAX_ZOOM, int(float(value))))
    except (TypeError, ValueError):
        return default


# ---------------------------------------------------------------- PMTiles (version 3, read with the `pmtiles` package)


class _PMTilesReader:
    """The archive memory-mapped; directories decoded once and kept (a tile is then two dictionary look-ups)."""

    def __init__(self, path: Path) -> None:
        from pmtiles.tile import deserialize_directory, deserialize_header

        with path.open("rb") as f:
            self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.header = deserialize_header(self.data[0:127])
        self._deserialize = deserialize_directory
        self._directories: dict[tuple[int, int], list[Any]] = {}

    def directory(self, offset: int, length: int) -> list[Any]:
        found = self._directories.get((offset, length))
        if found is None:
            if len(self._directories) >= DIRECTORY_CACHE:
                self._directories.clear()
            found = self._directories[(offset, length)] = self._deserialize(self.data[offset:offset + length])
        return found

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        from pmtiles.tile import find_tile, zxy_to_tileid

        h = self.header
        tile_id = zxy_to_tileid(z, x, y)
        offset, length = h["root_offset"], h["root_length"]
        for _depth in range(4):  # the format's maximum depth
            entry = find_tile(self.directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length == 0:  # a leaf directory
                offset, length = h["leaf_directory_offset"] + entry.offset, entry.length
                continue
            start = h["tile_data_offset"] + entry.offset
            return bytes(self.data[start:start + entry.length])
        return None

    def metadata(self) -> dict[str, Any]:
        raw = self.data[self.header["metadata_offset"]:self.header["metadata_offset"] + self.header["metadata_length"]]
        return json.loads(gzip.decompress(raw) if raw.startswith(GZIP_MAGIC) else raw or b"{}")


def _open_pmtiles(path: Path, version: str) -> TileSet:
    try:
        from pmtiles.tile import Compression, TileType
    except ImportError as exc:
        raise BasemapError(f"SITAWARE_BASEMAP {path}: reading PMTiles needs the `pmtiles` package "
                           f"(pip install pmtiles)") from exc

    try:
        reader = _PMTilesReader(path)
    except (ValueError, OSError) as exc:  # empty file (mmap), unreadable
        raise BasemapError(f"SITAWARE_BASEMAP {path} cannot be read as a PMTiles archive: {exc}") from exc
    except Exception as exc:  # the package's MagicNumberNotFound, SpecVersionUnsupported, a bad enum value
        raise BasemapError(f"SITAWARE_BASEMAP {path} is not a PMTiles version 3 archive ({type(exc).__name__}); "
                           f"convert it with `pmtiles convert`") from exc
    h = reader.header
    if h["internal_compression"] != Compression.GZIP:
        raise BasemapError(f"SITAWARE_BASEMAP {path}: directories compressed with {h['internal_compression'].name} "
                           f"are not supported; re-create the archive with gzip (the pmtiles tools' default)")
    fmt = {TileType.MVT: "pbf", TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp"}.get(h["tile_type"])
    if fmt is None:
        raise BasemapError(f"SITAWARE_BASEMAP {path}: tile type {h['tile_type'].name} is not supported; use MVT "
                           f"(vector), PNG, JPEG or WebP tiles")
    if h["tile_compression"] not in (Compression.NONE, Compression.GZIP, Compression.UNKNOWN):
        raise BasemapError(f"SITAWARE_BASEMAP {path}: tiles compressed with {h['tile_compression'].name} are not "
                           f"supported; re-create the archive with gzip or no tile compression")
    try:
        meta = reader.metadata()
    except (ValueError, OSError):
        meta = {}
    layers = [str(layer.get("id")) for layer in meta.get("vector_layers", []) if isinstance(layer, dict)]
    bounds = _bounds([h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7, h["max_lat_e7"] / 1e7])
    return TileSet(
        kind="pmtiles", path=path, format=fmt, minzoom=h["min_zoom"], maxzoom=h["max_zoom"], bounds=bounds,
        attribution=_text(meta.get("attribution")), name=_text(meta.get("name")) or path.stem,
        vector_layers=layers if fmt == "pbf" else [], version=version, _reader=reader,
    )


# ---------------------------------------------------------------- the configured basemap


def configured_path() -> Path | None:
    value = getattr(settings, "SITAWARE_BASEMAP", "")
    return Path(value).expanduser() if value else None


def _version(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}".encode()).hexdigest()[:16]


_open_lock = threading.Lock()
_opened: dict[tuple[str, str], TileSet] = {}


def describe(path: Path) -> tuple[str, TileSet | None]:
    """What the file is: ("geojson", None) or (kind, its TileSet). Raises BasemapError naming the fix."""
    suffix = path.suffix.lower()
    if suffix not in GEOJSON_SUFFIXES and suffix not in TILE_SUFFIXES:
        raise BasemapError(f"SITAWARE_BASEMAP {path}: unknown basemap format {suffix or '(no suffix)'!r}; use a "
                           f".geojson, .mbtiles or .pmtiles file")
    if not path.is_file():
        raise BasemapError(f"SITAWARE_BASEMAP {path} does not exist or is not a file")
    try:
        version = _version(path)
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise BasemapError(f"SITAWARE_BASEMAP {path} cannot be read: {exc.strerror or exc}") from exc
    if suffix in GEOJSON_SUFFIXES:
        return "geojson", None
    kind = TILE_SUFFIXES[suffix]
    key = (str(path), version)
    with _open_lock:
        found = _opened.get(key)
        if found is None:
            found = (_open_mbtiles if kind == "mbtiles" else _open_pmtiles)(path, version)
            _opened.clear()  # only the current file is kept open
            _opened[key] = found
    return kind, found


def current_tileset() -> TileSet | None:
    """The configured MBTiles or PMTiles basemap, or None (GeoJSON, nothing configured, or a file that cannot be
    used: the check reports that, the pages draw the shipped countries)."""
    path = configured_path()
    if path is None or path.suffix.lower() not in TILE_SUFFIXES:
        return None
    try:
        return describe(path)[1]
    except BasemapError:
        return None


def tile_url_template(tileset: TileSet) -> str:
    from django.urls import reverse

    # reverse() wants numbers; the template's placeholders go in after.
    url = reverse("web:basemap-tile", kwargs={"z": 0, "x": 0, "y": 0, "ext": tileset.format})
    return url.replace("/0/0/0.", "/{z}/{x}/{y}.") + f"?v={tileset.version}"


def page_config(geojson_url: str, admin1_url: str | None = None) -> dict[str, Any]:
    """What the pages' script (static/web/basemap.js) needs to build the basemap part of a MapLibre style. The
    shipped countries come with the shipped province lines (`admin1`); a mission's own basemap stands alone."""
    tileset = current_tileset()
    if tileset is None:
        shipped = configured_path() is None or configured_path().suffix.lower() not in GEOJSON_SUFFIXES
        config: dict[str, Any] = {"type": "geojson", "url": geojson_url,
                                  "attribution": "Natural Earth (world-atlas)" if shipped else ""}
        if shipped and admin1_url:
            config["admin1"] = admin1_url
        return config
    config: dict[str, Any] = {
        "type": "vector" if tileset.vector else "raster",
        "tiles": tile_url_template(tileset),
        "minzoom": tileset.minzoom, "maxzoom": tileset.maxzoom,
        # MapLibre shows attributions as HTML: the file's text is escaped, never markup.
        "attribution": escape(tileset.attribution),
    }
    if tileset.bounds:
        config["bounds"] = list(tileset.bounds)
    if tileset.vector:
        config["layers"] = tileset.vector_layers
    else:
        config["tileSize"] = tileset.tile_size
    return config


@checks.register(checks.Tags.compatibility)
def check_basemap(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`sitaware check` and start-up: a configured basemap that cannot be used is an error, not a silent fallback."""
    path = configured_path()
    if path is None:
        return []
    try:
        _kind, tileset = describe(path)
    except BasemapError as exc:
        return [checks.Error(str(exc), hint="Fix or unset SITAWARE_BASEMAP (docs/web.md, 'Mission basemap'); until "
                                            "then the map shows the shipped country boundaries.",
                             id="sitaware.web.E001")]
    return [checks.Warning(text, id="sitaware.web.W001") for text in (tileset.warnings if tileset else [])]
