// The basemap part of a MapLibre style, from the page's basemap config (web/basemap.py page_config):
//   {type: "geojson", url, admin1?}                the shipped countries (and province lines) or the mission's GeoJSON
//   {type: "raster", tiles, tileSize, minzoom, maxzoom, bounds}   the mission's MBTiles/PMTiles images
//   {type: "vector", tiles, layers, minzoom, maxzoom, bounds}     the mission's vector tiles
// Every URL is this server's: no tile server, no glyphs, no sprites (so no text labels), nothing leaves the machine.
// Vector tiles get a small readable style for the OpenMapTiles and Protomaps layer names; any other layer is drawn
// plainly by geometry type, so a mission's own schema still shows.
(function () {
  "use strict";
  const LAND = "#f7f6f2";
  const WATER = "#dfe8ef";
  const polygons = ["==", ["geometry-type"], "Polygon"];
  const lines = ["==", ["geometry-type"], "LineString"];
  const points = ["==", ["geometry-type"], "Point"];
  const width = (low, high) => ["interpolate", ["exponential", 1.6], ["zoom"], 5, low, 16, high];

  // [source-layer names, MapLibre layer (without id/source/source-layer)], drawn in this order.
  const KNOWN = [
    [["earth"], { type: "fill", filter: polygons, paint: { "fill-color": LAND } }],
    [["landcover", "natural"], { type: "fill", filter: polygons, paint: { "fill-color": "#e4ecd8", "fill-opacity": 0.7 } }],
    [["landuse", "park"], { type: "fill", filter: polygons, paint: { "fill-color": "#ebe6dc", "fill-opacity": 0.7 } }],
    [["water"], { type: "fill", filter: polygons, paint: { "fill-color": WATER } }],
    [["waterway", "water_line"], { type: "line", filter: lines, paint: { "line-color": "#a9c3d9", "line-width": width(0.4, 3) } }],
    [["building", "buildings"], { type: "fill", minzoom: 13, filter: polygons, paint: { "fill-color": "#d9d3c9" } }],
    [["transportation", "roads"], { type: "line", filter: lines, layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": "#b8aea0", "line-width": width(0.3, 5) } }],
    [["boundary", "boundaries"], { type: "line", filter: lines,
      paint: { "line-color": "#7d6b8f", "line-width": width(0.6, 2), "line-dasharray": [3, 2] } }],
  ];
  const KNOWN_NAMES = new Set(KNOWN.flatMap(([names]) => names));

  function absolute(url) {
    // MapLibre fetches in a worker, where a relative URL has no page to resolve against. Keep {z}/{x}/{y} as they are.
    return new URL(url, window.location.href).href.replace(/%7B/g, "{").replace(/%7D/g, "}");
  }

  function source(config) {
    if (config.type === "geojson") return { type: "geojson", data: absolute(config.url) };
    const out = { type: config.type, tiles: [absolute(config.tiles)], minzoom: config.minzoom || 0,
      maxzoom: config.maxzoom || 14 };
    if (config.bounds) out.bounds = config.bounds;
    if (config.type === "raster") out.tileSize = config.tileSize || 256;
    return out;
  }

  function layers(config, id) {
    if (config.type === "geojson") {
      return [
        { id: "water", type: "background", paint: { "background-color": WATER } },
        { id: "land", type: "fill", source: id, paint: { "fill-color": LAND } },
        { id: "borders", type: "line", source: id, paint: { "line-color": "#9a9a9a", "line-width": 0.8 } },
      ];
    }
    if (config.type === "raster") {
      return [
        { id: "water", type: "background", paint: { "background-color": WATER } },
        { id: "basemap-raster", type: "raster", source: id },
      ];
    }
    const names = config.layers && config.layers.length ? config.layers : Array.from(KNOWN_NAMES);
    const present = new Set(names);
    // Protomaps draws land ("earth") over water; OpenMapTiles draws water over land.
    const out = [{ id: "water", type: "background", paint: { "background-color": present.has("earth") ? WATER : LAND } }];
    for (const [known, layer] of KNOWN) {
      for (const name of known) {
        if (present.has(name)) out.push(Object.assign({ id: "basemap-" + name, source: id, "source-layer": name }, layer));
      }
    }
    for (const name of names) {
      if (KNOWN_NAMES.has(name)) continue;
      const base = { source: id, "source-layer": name };
      out.push(Object.assign({ id: "basemap-" + name + "-fill", type: "fill", filter: polygons,
        paint: { "fill-color": "#e6e2da", "fill-opacity": 0.6 } }, base));
      out.push(Object.assign({ id: "basemap-" + name + "-line", type: "line", filter: lines,
        paint: { "line-color": "#a39d92", "line-width": 0.8 } }, base));
      out.push(Object.assign({ id: "basemap-" + name + "-point", type: "circle", filter: points, minzoom: 12,
        paint: { "circle-color": "#8a847a", "circle-radius": 2 } }, base));
    }
    return out;
  }

  // A style with the basemap under the caller's own sources and layers.
  function style(config, extraSources, extraLayers) {
    return {
      version: 8,
      sources: Object.assign({ basemap: source(config) }, extraSources || {}),
      layers: layers(config, "basemap").concat(extraLayers || []),
    };
  }

  // The shipped province lines (config.admin1, set over the shipped countries only), added once the map has drawn
  // its first view: 1.1 MB of lines must not hold up the first render. Drawn just above the country borders.
  function provinces(map, config) {
    if (!config || config.type !== "geojson" || !config.admin1) return;
    map.once("idle", () => {
      if (map.getSource("basemap-admin1")) return;
      map.addSource("basemap-admin1", { type: "geojson", data: absolute(config.admin1) });
      const ids = map.getStyle().layers.map((layer) => layer.id);
      const above = ids[ids.indexOf("borders") + 1];
      map.addLayer({ id: "admin1", type: "line", source: "basemap-admin1", minzoom: 4,
        paint: { "line-color": "#a8a0b4", "line-width": width(0.5, 1.5), "line-dasharray": [3, 2] } }, above);
    });
  }

  window.sitawareBasemap = { style: style, source: source, layers: layers, provinces: provinces };
})();
