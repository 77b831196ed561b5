// Small shared map module for the pages that show one recommendation on a map (alert zone in the review queue,
// risk map, patrol plan): offline basemap + the page's GeoJSON layers, fitted to the data. The legend and every
// fact stay in the page's HTML (text and tables); the map is a complement drawn from a JSON spec.
//
// Markup: <div data-mapkit="SPEC_ID" role="region" aria-label="..."></div> plus {{ spec|json_script:"SPEC_ID" }}.
// Spec: {basemap: config of basemap.js, view: [lon, lat, zoom], sources: {name: source}, layers: [MapLibre
//   layers drawn over the basemap], noWebgl: text}
//   where a source is a GeoJSON FeatureCollection, or {cells: [[h3, prop values...]], fields: [prop names]}:
//   H3 cells drawn as hexagons with h3-js (ids are 5 times smaller than shipping polygons).
// Maps are made when they scroll into view and the ones far off screen are removed, so a page with many small
// maps (the review queue) never holds more WebGL contexts than browsers allow.
(function () {
  "use strict";
  const LIVE_MAX = 6;
  const live = []; // containers with a map, oldest first
  const ready = new Map(); // container -> callbacks waiting for its map

  function cellsToFeatures(source) {
    const fields = source.fields || ["cell"];
    return {
      type: "FeatureCollection",
      features: source.cells.map((row) => {
        const props = {};
        fields.forEach((name, i) => { props[name] = row[i]; });
        return { type: "Feature", geometry: { type: "Polygon", coordinates: [h3.cellToBoundary(row[0], true)] },
          properties: props };
      }),
    };
  }

  function asGeojson(source) {
    return source && source.cells ? cellsToFeatures(source) : source;
  }

  function extend(box, coords) {
    if (typeof coords[0] === "number") {
      box[0] = Math.min(box[0], coords[0]); box[1] = Math.min(box[1], coords[1]);
      box[2] = Math.max(box[2], coords[0]); box[3] = Math.max(box[3], coords[1]);
      return;
    }
    for (const c of coords) extend(box, c);
  }

  function bounds(collections) {
    const box = [Infinity, Infinity, -Infinity, -Infinity];
    for (const fc of collections) {
      for (const f of fc.features || []) { if (f.geometry) extend(box, f.geometry.coordinates); }
    }
    return box[0] === Infinity ? null : box;
  }

  // The basemap as the map page draws it (basemap.js: the shipped countries, the mission's GeoJSON or its tiles);
  // plain GeoJSON land and borders if that script is not on the page.
  function style(spec, sources) {
    const config = spec.basemap || { type: "geojson", url: spec.basemapUrl };
    if (window.sitawareBasemap) return window.sitawareBasemap.style(config, sources, spec.layers || []);
    const all = Object.assign({
      // Absolute: MapLibre fetches GeoJSON in a worker, where a relative URL has no page to resolve against.
      basemap: { type: "geojson", data: new URL(config.url, window.location.href).href },
    }, sources);
    return { version: 8, sources: all, layers: [
      { id: "water", type: "background", paint: { "background-color": "#dfe8ef" } },
      { id: "land", type: "fill", source: "basemap", paint: { "fill-color": "#f7f6f2" } },
      { id: "borders", type: "line", source: "basemap", paint: { "line-color": "#9a9a9a", "line-width": 0.8 } },
    ].concat(spec.layers || []) };
  }

  function mount(container) {
    const spec = JSON.parse(document.getElementById(container.dataset.mapkit).textContent);
    const sources = {};
    const data = [];
    for (const [name, source] of Object.entries(spec.sources || {})) {
      const geojson = asGeojson(source);
      data.push(geojson);
      sources[name] = { type: "geojson", data: geojson };
    }
    const view = spec.view || [20, 5, 4];
    let map;
    try {
      // No glyphs, no sprites, every URL this server's (basemap.js): nothing leaves the machine.
      map = new maplibregl.Map({
        container: container, style: style(spec, sources), center: [view[0], view[1]], zoom: view[2],
        attributionControl: { compact: true,
          customAttribution: (spec.basemap && spec.basemap.attribution) || "Natural Earth (world-atlas)" },
      });
      if (window.sitawareBasemap) window.sitawareBasemap.provinces(map, spec.basemap);
    } catch (error) {
      const note = document.createElement("p");
      note.className = "help";
      note.textContent = spec.noWebgl || "";
      container.replaceChildren(note);
      container.dataset.mapkitState = "no-webgl";
      return null;
    }
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
    map.addControl(new maplibregl.ScaleControl());
    const box = bounds(data);
    if (box) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 30, maxZoom: 14, duration: 0 });
    container.sitawareMap = map;
    map.once("load", () => {
      container.dataset.mapkitState = "drawn"; // for the browser tests: the page's layers are on the map
      for (const cb of ready.get(container) || []) cb(map);
    });
    return map;
  }

  function unmount(container) {
    if (container.sitawareMap) { container.sitawareMap.remove(); container.sitawareMap = null; }
    delete container.dataset.mapkitState;
  }

  // Calls cb(map) once the container's map has drawn its layers (again after a re-mount).
  function onReady(container, cb) {
    if (container.sitawareMap && container.dataset.mapkitState === "drawn") { cb(container.sitawareMap); }
    if (!ready.has(container)) ready.set(container, []);
    ready.get(container).push(cb);
  }

  function show(container) {
    if (container.sitawareMap || container.dataset.mapkitState === "no-webgl") return;
    if (!mount(container)) return;
    live.push(container);
    while (live.length > LIVE_MAX) {
      const index = live.findIndex((c) => !c.mapkitVisible);
      if (index < 0) break;
      unmount(live.splice(index, 1)[0]);
    }
  }

  function start() {
    const containers = Array.from(document.querySelectorAll("[data-mapkit]"));
    if (!("IntersectionObserver" in window)) { containers.slice(0, LIVE_MAX).forEach(show); return; }
    const observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        entry.target.mapkitVisible = entry.isIntersecting;
        if (entry.isIntersecting) show(entry.target);
      }
    }, { rootMargin: "200px" });
    containers.forEach((c) => observer.observe(c));
  }

  window.sitawareMapkit = { onReady: onReady, cellsToFeatures: cellsToFeatures };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
