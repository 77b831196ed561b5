// The operations map: offline basemap, server-side aggregates or points for the view, the record panel and
// the live feed. Everything the page shows comes from the viewer's scope on the server; this script only
// draws it. Text from records is always set with textContent, never parsed as HTML.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const S = config.strings;
  const L = config.labels;
  const form = document.getElementById("filters");
  const statusLine = document.getElementById("map-status");
  const liveLine = document.getElementById("live-status");
  const feed = document.getElementById("feed");
  const FEED_MAX = 100;
  const IN_VIEW_MAX = 50;
  const inView = document.getElementById("in-view");
  const inViewMore = document.getElementById("in-view-more");
  const DAY_MS = 86400000;

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  }
  function label(group, code) {
    if (code === null || code === undefined) return S.withheld;
    return (L[group] && L[group][String(code)]) || String(code).replace(/_/g, " ");
  }
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  // ------------------------------------------------------------ filters

  const daysInput = document.getElementById("f-days");
  const daysOut = document.getElementById("f-days-out");
  function daysValue() { return Number(daysInput.value); }
  function showDays() {
    const days = daysValue();
    const text = days >= 366 ? S.all_time : fmt(S.last_days, { days: days });
    daysOut.textContent = text;
    daysInput.setAttribute("aria-valuetext", text);
  }

  function currentFilter() {
    const data = new FormData(form);
    const filter = {
      kind: data.getAll("kind"), category: data.getAll("category"), status: data.getAll("status"),
      source_type: data.getAll("source_type"), unit: data.getAll("unit"),
      sensitivity: data.getAll("sensitivity").map(Number), since: null,
    };
    if (daysValue() < 366) filter.since = new Date(Date.now() - daysValue() * DAY_MS);
    return filter;
  }

  // Applies the form's filter to a live event's record, so a new record appears only where it belongs.
  function matches(record, filter) {
    const inList = (list, value) => list.length === 0 || list.includes(value);
    if (!inList(filter.kind, record.kind) || !inList(filter.status, record.status)) return false;
    if (!inList(filter.source_type, record.source_type) || !inList(filter.unit, record.unit)) return false;
    if (!inList(filter.sensitivity, record.sensitivity)) return false;
    if (filter.category.length && !filter.category.some(
      (c) => record.category === c || (record.category || "").startsWith(c + "."))) return false;
    if (filter.since && record.occurred_at && new Date(record.occurred_at) < filter.since) return false;
    return true;
  }

  function queryFor(filter) {
    const params = new URLSearchParams();
    for (const name of ["kind", "category", "status", "source_type", "unit", "sensitivity"]) {
      for (const value of filter[name]) params.append(name, value);
    }
    if (filter.since) params.set("since", filter.since.toISOString());
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    params.set("bbox", [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
      clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(","));
    params.set("zoom", map.getZoom().toFixed(2));
    return params;
  }

  // ------------------------------------------------------------ map

  function makeMap() {
    return new maplibregl.Map({
    container: "map",
    // No tile server, no glyphs, no sprites: the basemap (static/web/basemap.js) and the records are this server's
    // only, so nothing leaves the machine.
    style: window.sitawareBasemap.style(config.basemap, {
      cells: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
      points: { type: "geojson", data: { type: "FeatureCollection", features: [] }, promoteId: "id" },
    }, [
        {
          id: "cells", type: "fill", source: "cells",
          paint: {
            "fill-color": ["interpolate", ["linear"], ["get", "share"], 0, "#fde0c5", 0.5, "#f08a4b", 1, "#a52a0a"],
            "fill-opacity": 0.7, "fill-outline-color": "#7a3b16",
          },
        },
        {
          id: "points", type: "circle", source: "points",
          paint: {
            "circle-radius": ["case", ["boolean", ["get", "fresh"], false], 8, 5],
            "circle-color": ["match", ["get", "kind"], "incident", "#c0392b", "event", "#1f6fb2", "activity", "#2e8b57",
              "#555555"],
            "circle-stroke-color": ["case", ["boolean", ["get", "fresh"], false], "#e8a400", "#ffffff"],
            "circle-stroke-width": ["case", ["boolean", ["get", "fresh"], false], 3, 1],
          },
        },
    ]),
    center: [config.view[0], config.view[1]],
    zoom: config.view[2],
    attributionControl: { compact: true, customAttribution: config.basemap.attribution || undefined },
    });
  }
  // Without WebGL there is no map, but the feed and the record panel still work: fail soft, say so.
  let map = null;
  try {
    map = makeMap();
    window.sitawareBasemap.provinces(map, config.basemap);
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
    map.addControl(new maplibregl.ScaleControl());
  } catch (error) {
    map = null;
    statusLine.textContent = S.no_webgl;
  }
  window.sitawareMap = map; // for the browser test and for debugging from the console

  let points = new Map(); // id -> GeoJSON feature, so a live event updates a point in place
  let mode = null;
  let pointsTotal = 0; // the answer's total, kept up to date as live records arrive
  let lastSeq = 0; // the seq of the last live event shown (the stream's ids are seqs of entries we may see)
  const recent = []; // the latest events, to replay over a map answer that was already on its way
  let inflight = null;
  let refreshTimer = null;

  function pointFeature(id, lon, lat, props) {
    return { type: "Feature", id: id, geometry: { type: "Point", coordinates: [lon, lat] },
      properties: Object.assign({ id: id }, props) };
  }
  function drawPoints() {
    const source = map && map.getSource("points");
    if (!source) return; // no map, or its style is still loading (the first refresh draws them)
    source.setData({ type: "FeatureCollection", features: Array.from(points.values()) });
  }

  function showData(data) {
    mode = data.mode;
    if (data.mode === "points") {
      const lk = data.lookup;
      points = new Map();
      for (const row of data.rows) {
        const [id, lon, lat, kind, category, status, sensitivity, occurred] = row;
        points.set(id, pointFeature(id, lon, lat, {
          kind: kind === null ? null : lk.kind[kind],
          category: category === null ? null : lk.category[category],
          status: status === null ? null : lk.status[status],
          sensitivity: sensitivity, occurred_at: occurred,
        }));
      }
      pointsTotal = data.total;
      drawPoints();
      listInView(data.total);
      map.getSource("cells").setData({ type: "FeatureCollection", features: [] });
      statusLine.textContent = fmt(data.truncated ? S.points_truncated : S.points_summary,
        { shown: data.rows.length, total: data.total });
    } else {
      const top = data.cells.reduce((m, c) => Math.max(m, c[1]), 1);
      const features = data.cells.map(([cell, count]) => ({
        type: "Feature",
        geometry: { type: "Polygon", coordinates: [h3.cellToBoundary(cell, true)] },
        properties: { cell: cell, count: count, share: Math.sqrt(count / top) },
      }));
      map.getSource("cells").setData({ type: "FeatureCollection", features: features });
      points = new Map();
      drawPoints();
      inView.replaceChildren();
      inViewMore.textContent = S.in_view_cells;
      statusLine.textContent = fmt(S.cells_summary, { total: data.total, cells: data.cells.length });
    }
  }

  // The points as a list of buttons (newest first), so every record on the map can be reached by keyboard.
  function listInView(total) {
    inView.replaceChildren();
    let shown = 0;
    for (const feature of points.values()) {
      if (shown >= IN_VIEW_MAX) break;
      const p = feature.properties;
      const when = p.occurred_at ? new Date(p.occurred_at * 1000).toLocaleDateString() : "";
      const button = el("button", [label("category", p.category), when].filter(Boolean).join(" · "),
        { type: "button" });
      button.addEventListener("click", () => openRecord(p.id));
      const item = el("li");
      item.append(button);
      inView.append(item);
      shown += 1;
    }
    inViewMore.textContent = total > shown ? fmt(S.in_view_more, { count: total - shown }) : "";
  }

  // The record layers exist once the style is parsed ("style.load"; not "load", which waits for the basemap).
  // The first map data is requested as soon as the map knows its bounds, in parallel with the style and the
  // basemap, and drawn when both are there.
  let styleReady = Promise.resolve();
  if (map) {
    styleReady = new Promise((resolve) => {
      if (map.isStyleLoaded()) resolve(); else map.once("style.load", () => resolve());
    });
  }

  async function refresh() {
    if (!map) return;
    if (inflight) inflight.abort();
    const controller = inflight = new AbortController();
    const mark = lastSeq; // live events after this may be missing from the answer: replay them on top
    statusLine.textContent = S.loading;
    try {
      const query = queryFor(currentFilter()).toString();
      // The page asked for the opening view's data before this script loaded (map.html): use that answer when
      // this is the same question.
      const early = window.sitawareEarlyData;
      window.sitawareEarlyData = null;
      const response = await (early && early.query === query ? early.response : fetch(config.dataUrl + "?" + query,
        { credentials: "same-origin", signal: controller.signal, headers: { Accept: "application/json" } }));
      if (controller.signal.aborted) return;
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      await styleReady;
      if (controller.signal.aborted) return; // a newer request replaced this one while the style loaded
      showData(data);
      if (mode === "points") {
        for (const event of recent) { if (event.seq > mark) applyToMap(event.record); }
      }
    } catch (error) {
      if (error.name !== "AbortError") statusLine.textContent = S.load_failed;
    }
  }
  function refreshSoon(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, delay === undefined ? 250 : delay);
  }

  form.addEventListener("change", () => { showDays(); refreshSoon(); });
  daysInput.addEventListener("input", showDays);
  form.addEventListener("reset", () => setTimeout(() => { showDays(); refreshSoon(0); }, 0));
  showDays();

  if (map) {
    refresh();
    map.on("moveend", () => refreshSoon());
    map.on("click", "points", (e) => { if (e.features.length) openRecord(e.features[0].properties.id); });
    map.on("click", "cells", (e) => {
      // A hexagon stands for many records: zoom in on it rather than pick one.
      map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, 18) });
    });
    for (const layer of ["points", "cells"]) {
      map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
      map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
    }
  }

  // ------------------------------------------------------------ record panel

  const panel = document.getElementById("record-panel");
  document.getElementById("record-close").addEventListener("click", () => { panel.hidden = true; });
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") panel.hidden = true; });

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  }

  async function openRecord(id) {
    const url = (template) => template.replace("RECORD_ID", encodeURIComponent(id));
    const title = document.getElementById("record-title");
    const fields = document.getElementById("record-fields");
    const narrative = document.getElementById("record-narrative");
    const history = document.getElementById("record-history");
    const recs = document.getElementById("record-recommendations");
    for (const node of [fields, history, recs]) node.replaceChildren();
    narrative.textContent = "";
    title.textContent = S.loading;
    panel.hidden = false;
    panel.focus();
    let record;
    try {
      record = await getJson(url(config.recordUrl));
    } catch (error) {
      title.textContent = S.record_not_found;
      return;
    }
    title.textContent = record.title || S.untitled;
    const rows = [
      [S.kind, label("kind", record.kind)], [S.category, label("category", record.category)],
      [S.status, label("status", record.status)], [S.sensitivity, label("sensitivity", record.sensitivity)],
      [S.occurred_at, record.occurred_at ? new Date(record.occurred_at).toLocaleString() : S.withheld],
      [S.place, [record.place_name, record.admin2, record.admin1].filter(Boolean).join(", ") || "-"],
      [S.source, label("source_type", record.source_type) + " " + (record.source_reliability || "") +
        (record.information_credibility || "")],
      [S.unit, record.reporting_unit || S.withheld],
    ];
    for (const [name, value] of rows) { fields.append(el("dt", name), el("dd", value)); }
    narrative.textContent = record.narrative === null ? "" : record.narrative;
    try {
      const revs = await getJson(url(config.revisionsUrl));
      for (const rev of revs.items.slice().reverse()) {
        const item = el("li");
        item.append(el("strong", fmt(S.version, { version: rev.version })),
          document.createTextNode(" · " + new Date(rev.at).toLocaleString() + " · " + rev.actor));
        if (rev.changed_fields && rev.changed_fields.length) {
          item.append(el("div", fmt(S.changed_fields, { fields: rev.changed_fields.join(", ") })));
        }
        if (rev.reason) item.append(el("div", rev.reason));
        if (rev.snapshot && rev.snapshot.withheld) item.append(el("div", S.withheld));
        history.append(item);
      }
    } catch (error) { history.append(el("li", S.load_failed)); }
    try {
      const list = await getJson(url(config.recommendationsUrl));
      if (!list.items.length) recs.append(el("li", S.no_recommendations));
      for (const rec of list.items) {
        const decided = rec.decision ? fmt(S.decision, { outcome: label("outcome", rec.decision.outcome) }) : S.pending;
        const item = el("li");
        item.append(el("strong", rec.component_name || rec.component), document.createTextNode(" · " + decided));
        const explanation = rec.explanation || "";
        if (explanation) item.append(el("div", explanation.length > 300 ? explanation.slice(0, 300) + "…" : explanation));
        recs.append(item);
      }
    } catch (error) { recs.append(el("li", S.load_failed)); }
  }

  // ------------------------------------------------------------ live feed

  function addToFeed(event) {
    const record = event.record;
    const item = el("li", null, { class: "fresh" });
    const button = el("button", record.title || S.untitled, { type: "button", "aria-label": S.open_record + ": " +
      (record.title || S.untitled) });
    button.addEventListener("click", () => openRecord(record.id));
    item.append(button, el("div", label("action", event.action) + " · " + event.actor + " · " +
      new Date(event.at).toLocaleTimeString() + " · " + label("kind", record.kind) + " · " +
      label("status", record.status)));
    feed.prepend(item);
    setTimeout(() => item.classList.remove("fresh"), 10000);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  }

  function applyToMap(record) {
    const visible = record.lat !== null && record.lon !== null && matches(record, currentFilter());
    if (mode === "cells") { if (visible) refreshSoon(1000); return; }
    const known = points.has(record.id);
    if (visible) {
      const feature = pointFeature(record.id, record.lon, record.lat, {
        kind: record.kind, category: record.category, status: record.status, sensitivity: record.sensitivity,
        occurred_at: record.occurred_at ? Date.parse(record.occurred_at) / 1000 : null, fresh: true,
      });
      if (known) {
        points.set(record.id, feature);
      } else {
        points = new Map([[record.id, feature], ...points]); // newest first, as the server orders them
        pointsTotal += 1;
      }
    } else if (known) {
      points.delete(record.id); // changed so that it no longer matches the filter
      pointsTotal -= 1;
    }
    drawPoints();
    if (visible || known) {
      statusLine.textContent = fmt(points.size < pointsTotal ? S.points_truncated : S.points_summary,
        { shown: points.size, total: pointsTotal });
      listInView(pointsTotal);
    }
  }

  function connect() {
    // The page's sealed start (the chain's head when the page was made, readable by the server only) is used
    // until the first event: from then on the browser resumes from Last-Event-ID, which wins over it.
    const source = new EventSource(config.streamUrl + "?start=" + encodeURIComponent(config.start));
    source.addEventListener("open", () => { liveLine.textContent = S.live_connected; });
    source.addEventListener("record", (message) => {
      const event = JSON.parse(message.data);
      if (event.seq <= lastSeq) return; // a replay after a reconnect: already shown
      lastSeq = event.seq;
      recent.push(event);
      if (recent.length > 200) recent.shift();
      addToFeed(event);
      applyToMap(event.record);
    });
    source.addEventListener("error", () => {
      liveLine.textContent = source.readyState === EventSource.CLOSED ? S.live_stopped : S.live_reconnecting;
    });
    return source;
  }
  window.sitawareLive = connect();
})();
