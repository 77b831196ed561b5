"""The mission's own basemap from an MBTiles or PMTiles file (issue 3): tiles served by this server only.

The files are made here, in the test: MBTiles with sqlite3 and tiny PNGs or hand-encoded vector tiles, PMTiles with
the `pmtiles` package's writer. Nothing is downloaded. Server side: the tile endpoint (content types, the TMS row
flip, gzip, ETag and caching, 404s, sign-in), the page's style config, and the system check's errors. In Chromium:
the map draws the mission's tiles and every request the page makes goes to this server.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest

from tests.web_browser_support import browser_fixture, live_server_fixture, new_page, sign_in  # noqa: F401

# ------------------------------------------------------------------ making small real files


def png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A plain-colour RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b""))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint((number << 3) | wire)
    if wire == 0:
        return key + _varint(int(payload))
    return key + _varint(len(payload)) + payload


def mvt_square(layer: str, feature_id: int = 1) -> bytes:
    """A Mapbox Vector Tile with one layer holding one polygon that covers the tile (extent 4096)."""
    zz = lambda n: (n << 1) ^ (n >> 31)  # noqa: E731 (zigzag)
    commands = [9, zz(0), zz(0), (3 << 3) | 2, zz(4096), zz(0), zz(0), zz(4096), zz(-4096), zz(0), 15]
    feature = _field(1, 0, feature_id) + _field(3, 0, 3) + _field(4, 2, b"".join(_varint(c) for c in commands))
    body = _field(15, 0, 2) + _field(1, 2, layer.encode()) + _field(2, 2, feature) + _field(5, 0, 4096)
    return _field(3, 2, body)


def make_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], index: bool = True, **metadata: str) -> Path:
    """tiles keyed by XYZ (z, x, y); stored TMS-style (row from the south) as the MBTiles spec says."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE metadata (name text, value text)")
    conn.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
    if index:  # as the tools write it
        conn.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    conn.executemany("INSERT INTO metadata VALUES (?, ?)", list(metadata.items()))
    conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                     [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    conn.commit()
    conn.close()
    return path


def make_pmtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], *, tile_type, compression,
                 metadata: dict | None = None) -> Path:
    from pmtiles.tile import Compression, zxy_to_tileid
    from pmtiles.writer import write

    with write(str(path)) as writer:
        for (z, x, y), data in sorted(tiles.items(), key=lambda item: zxy_to_tileid(*item[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), data)
        writer.finalize({
            "tile_type": tile_type, "tile_compression": compression, "internal_compression": Compression.GZIP,
            "min_lon_e7": int(14.0e7), "min_lat_e7": int(2.0e7), "max_lon_e7": int(27.5e7), "max_lat_e7": int(11.0e7),
            "center_zoom": 4, "center_lon_e7": int(20.0e7), "center_lat_e7": int(5.0e7),
        }, metadata or {})
    return path


def pyramid(make, max_zoom: int = 4) -> dict[tuple[int, int, int], bytes]:
    """Every tile from zoom 0 to max_zoom, so the map finds tiles wherever it opens. Make them distinct for
    PMTiles: the package's writer takes the highest zoom from the last run of equal tiles."""
    return {(z, x, y): make(z, x, y) for z in range(max_zoom + 1) for x in range(1 << z) for y in range(1 << z)}


RED, GREEN = (200, 30, 30), (30, 160, 60)


@pytest.fixture
def raster_mbtiles(tmp_path):
    # The north-west tile of zoom 1 is red, every other tile green: a wrong row flip shows up as the wrong colour.
    tiles = pyramid(lambda z, x, y: png(RED) if (z, x, y) == (1, 0, 0) else png(GREEN), 3)
    return make_mbtiles(tmp_path / "mission.mbtiles", tiles, name="Mission raster", format="png",
                        minzoom="0", maxzoom="3", bounds="14.0,2.0,27.5,11.0",
                        attribution='<a href="https://example.org">© Mission survey</a> & <b>partners</b>')


@pytest.fixture
def vector_mbtiles(tmp_path):
    tiles = pyramid(lambda z, x, y: gzip.compress(mvt_square("water"), mtime=0), 2)
    return make_mbtiles(tmp_path / "vector.mbtiles", tiles, name="Mission vector", format="pbf", minzoom="0",
                        maxzoom="2", json=json.dumps({"vector_layers": [{"id": "water", "fields": {}}]}))


def _login(client, world, name="ana"):
    client.force_login(world.users[name])


def _config(client) -> dict:
    html = client.get("/map/").content.decode()
    return json.loads(html.split('<script id="map-config" type="application/json">')[1].split("</script>")[0])


# ------------------------------------------------------------------ server side


def test_an_mbtiles_raster_basemap_is_served_tile_by_tile_with_the_row_flipped(client, world, settings,
                                                                               raster_mbtiles):
    settings.SITAWARE_BASEMAP = str(raster_mbtiles)
    _login(client, world)
    config = _config(client)["basemap"]
    assert config["type"] == "raster" and config["minzoom"] == 0 and config["maxzoom"] == 3
    assert config["bounds"] == [14.0, 2.0, 27.5, 11.0] and config["tileSize"] == 256
    # The file's HTML attribution is shown as text only: tags dropped, the rest escaped.
    assert config["attribution"] == "© Mission survey &amp; partners"
    url = config["tiles"]
    assert url.startswith("/map/tiles/{z}/{x}/{y}.png?v=")
    north_west = client.get(url.replace("{z}/{x}/{y}", "1/0/0"))
    assert north_west.status_code == 200 and north_west["Content-Type"] == "image/png"
    assert north_west.content == png(RED)  # XYZ row 0 is the north: stored as TMS row 1
    assert client.get(url.replace("{z}/{x}/{y}", "1/0/1")).content == png(GREEN)
    assert "immutable" in north_west["Cache-Control"] and "private" in north_west["Cache-Control"]
    assert "Content-Encoding" not in north_west or north_west["Content-Encoding"] == "identity"
    # Revalidation: 304 on the file's ETag; without the version the cache is short.
    etag = north_west["ETag"]
    assert client.get("/map/tiles/1/0/0.png", headers={"If-None-Match": etag}).status_code == 304
    assert "immutable" not in client.get("/map/tiles/1/0/0.png")["Cache-Control"]
    # Missing tiles, out-of-range tiles and the wrong extension: 404.
    assert client.get("/map/tiles/4/0/0.png").status_code == 404
    assert client.get("/map/tiles/1/2/0.png").status_code == 404
    assert client.get("/map/tiles/1/0/0.pbf").status_code == 404
    # A new version of the file is a new ETag and version.
    raster_mbtiles.write_bytes(raster_mbtiles.read_bytes())
    os.utime(raster_mbtiles, ns=(1, 1))
    assert client.get("/map/tiles/1/0/0.png", headers={"If-None-Match": etag}).status_code == 200
    assert _config(client)["basemap"]["tiles"] != url


def test_tiles_need_a_signed_in_member(client, world, settings, raster_mbtiles):
    from django.contrib.auth import get_user_model

    settings.SITAWARE_BASEMAP = str(raster_mbtiles)
    anonymous = client.get("/map/tiles/0/0/0.png")
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json"
    loner = get_user_model().objects.create_user(username="loner", password="x")
    client.force_login(loner)  # signed in, but in no organisation
    assert client.get("/map/tiles/0/0/0.png").status_code == 403
    _login(client, world, "hugo")  # another organisation's member: the basemap is not scoped data
    assert client.get("/map/tiles/0/0/0.png").status_code == 200


def test_gzipped_vector_tiles_keep_their_encoding_or_are_unzipped_for_a_client_without_gzip(client, world, settings,
                                                                                           vector_mbtiles):
    settings.SITAWARE_BASEMAP = str(vector_mbtiles)
    _login(client, world)
    config = _config(client)["basemap"]
    assert config["type"] == "vector" and config["layers"] == ["water"] and "tileSize" not in config
    zipped = client.get("/map/tiles/2/1/1.pbf", headers={"Accept-Encoding": "gzip, br"})
    assert zipped["Content-Type"] == "application/x-protobuf" and zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == mvt_square("water") and "Accept-Encoding" in zipped["Vary"]
    plain = client.get("/map/tiles/2/1/1.pbf", headers={"Accept-Encoding": "identity"})
    assert plain.content == mvt_square("water") and "Content-Encoding" not in plain
    assert client.get("/map/tiles/2/1/1.png").status_code == 404


def test_a_pmtiles_basemap_is_read_on_the_server_raster_and_vector(client, world, settings, tmp_path):
    from pmtiles.tile import Compression, TileType

    raster = make_pmtiles(tmp_path / "raster.pmtiles",
                          pyramid(lambda z, x, y: png(RED) if (z, x, y) == (2, 3, 1) else png((30, 8 * x, 8 * y)), 3),
                          tile_type=TileType.PNG, compression=Compression.NONE,
                          metadata={"attribution": "Mission imagery", "name": "imagery"})
    settings.SITAWARE_BASEMAP = str(raster)
    _login(client, world)
    config = _config(client)["basemap"]
    assert config["type"] == "raster" and config["tiles"].startswith("/map/tiles/{z}/{x}/{y}.png?v=")
    assert config["bounds"] == [14.0, 2.0, 27.5, 11.0] and config["maxzoom"] == 3
    assert config["attribution"] == "Mission imagery"
    assert client.get("/map/tiles/2/3/1.png").content == png(RED)  # PMTiles rows are XYZ: no flip
    assert client.get("/map/tiles/2/1/3.png").content == png((30, 8, 24))
    assert client.get("/map/tiles/5/0/0.png").status_code == 404

    vector = make_pmtiles(tmp_path / "vector.pmtiles",
                          pyramid(lambda z, x, y: gzip.compress(mvt_square("earth", 100 * z + 10 * x + y), mtime=0), 2),
                          tile_type=TileType.MVT, compression=Compression.GZIP,
                          metadata={"vector_layers": [{"id": "earth"}, {"id": "roads"}]})
    settings.SITAWARE_BASEMAP = str(vector)
    config = _config(client)["basemap"]
    assert config["type"] == "vector" and config["layers"] == ["earth", "roads"]
    answer = client.get("/map/tiles/1/1/0.pbf", headers={"Accept-Encoding": "gzip"})
    assert answer["Content-Encoding"] == "gzip" and gzip.decompress(answer.content) == mvt_square("earth", 110)


def test_a_geojson_or_tile_basemap_leaves_the_geojson_endpoint_with_countries_for_other_pages(client, world, settings,
                                                                                             raster_mbtiles):
    settings.SITAWARE_BASEMAP = str(raster_mbtiles)
    _login(client, world)
    assert client.get("/map/basemap.geojson").status_code == 302  # the shipped countries (static file)
    settings.SITAWARE_BASEMAP = ""
    config = _config(client)["basemap"]
    assert config["type"] == "geojson" and config["url"].startswith("/map/basemap.geojson?v=")
    assert client.get("/map/tiles/0/0/0.png").status_code == 404  # no tile basemap configured


def test_the_system_check_names_a_missing_unreadable_or_unknown_basemap(settings, tmp_path, raster_mbtiles):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from pmtiles.tile import Compression, TileType

    from sitaware.web.basemap import check_basemap

    def errors(path) -> list[str]:
        settings.SITAWARE_BASEMAP = str(path)
        return [m.msg for m in check_basemap() if m.is_serious()]

    settings.SITAWARE_BASEMAP = ""
    assert check_basemap() == []
    assert errors(raster_mbtiles) == []
    good = make_pmtiles(tmp_path / "ok.pmtiles", {(0, 0, 0): png(GREEN)}, tile_type=TileType.PNG,
                        compression=Compression.NONE)
    assert errors(good) == []
    assert "does not exist" in errors(tmp_path / "absent.mbtiles")[0]
    assert "unknown basemap format '.tif'" in errors(tmp_path / "map.tif")[0]
    (tmp_path / "junk.mbtiles").write_bytes(b"not a database at all" * 100)
    assert "not a readable MBTiles file" in errors(tmp_path / "junk.mbtiles")[0]
    (tmp_path / "empty.pmtiles").write_bytes(b"")
    assert "cannot be read as a PMTiles archive" in errors(tmp_path / "empty.pmtiles")[0]
    (tmp_path / "junk.pmtiles").write_bytes(b"\x00" * 200)
    assert "not a PMTiles version 3 archive" in errors(tmp_path / "junk.pmtiles")[0]
    tif = make_mbtiles(tmp_path / "tif.mbtiles", {(0, 0, 0): b"II*\x00"}, format="tiff")
    assert "tile format 'tiff' is not supported" in errors(tif)[0]
    # Usable but slow: a warning, not an error.
    slow = make_mbtiles(tmp_path / "slow.mbtiles", {(0, 0, 0): png(GREEN)}, index=False, format="png")
    settings.SITAWARE_BASEMAP = str(slow)
    assert [(m.id, "no index" in m.msg) for m in check_basemap()] == [("sitaware.web.W001", True)]
    settings.SITAWARE_BASEMAP = str(tmp_path / "absent.pmtiles")
    with pytest.raises(SystemCheckError, match=r"sitaware\.web\.E001"):
        call_command("check")


# ------------------------------------------------------------------ in the browser


@pytest.mark.parametrize("kind", ["mbtiles-raster", "pmtiles-vector"])
def test_the_map_draws_the_mission_tiles_and_asks_only_this_server(kind, live_server_url, world, browser, settings,
                                                                  tmp_path):
    from pmtiles.tile import Compression, TileType

    if kind == "mbtiles-raster":
        path = make_mbtiles(tmp_path / "m.mbtiles", pyramid(lambda z, x, y: png(GREEN), 5), format="png",
                            minzoom="0", maxzoom="5")
        ext = "png"
    else:
        path = make_pmtiles(tmp_path / "m.pmtiles", pyramid(lambda z, x, y: gzip.compress(
                                mvt_square("water", (z << 12) + (x << 6) + y), mtime=0), 5),
                            tile_type=TileType.MVT, compression=Compression.GZIP,
                            metadata={"vector_layers": [{"id": "water"}]})
        ext = "pbf"
    settings.SITAWARE_BASEMAP = str(path)
    page = new_page(browser)
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    tile_answers: list[int] = []
    page.context.on("response", lambda r: tile_answers.append(r.status) if "/map/tiles/" in r.url else None)
    sign_in(page, live_server_url, "ana", "/map/")
    page.wait_for_function("window.sitawareMap && window.sitawareMap.loaded() && "
                           "window.sitawareMap.areTilesLoaded()", timeout=30_000)
    tiles = [u for u in requested if "/map/tiles/" in u]
    assert tiles and all(u.endswith(f".{ext}?v=" + u.split("?v=")[1]) for u in tiles), tiles[:5]
    # Every request the page made (the page, scripts, the map's worker, the live feed) went to this server.
    assert requested and all(u.startswith(live_server_url + "/") for u in requested), [
        u for u in requested if not u.startswith(live_server_url)]
    assert page.outside_requests == []
    if ext == "pbf":
        drawn = page.evaluate("window.sitawareMap.queryRenderedFeatures({layers: ['basemap-water']}).length")
        assert drawn > 0
    else:
        # The raster layer is there and its tiles arrived (a row-flip mistake is caught server-side above).
        assert page.evaluate("!!window.sitawareMap.getLayer('basemap-raster')")
    assert tile_answers and set(tile_answers) <= {200, 304}, tile_answers
