// The record form. It sends the record to the records API itself, so the messages next to the fields are the
// API's own 400 errors. A new record's id is made here, once per draft: if the connection drops, the draft is
// kept in localStorage (the "outbox") and sent again when the link is back; the server answers 200 to a
// replayed id from the same author, so a draft sent twice is still one record.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("form-config").textContent);
  const serviceWorkerUrl = document.currentScript && document.currentScript.dataset.serviceWorker;
  const S = config.strings;
  const form = document.getElementById("record-form");
  const statusBox = document.getElementById("form-status");
  const errorBox = document.getElementById("form-errors");
  const errorList = document.getElementById("form-error-list");
  const kindSelect = document.getElementById("f-kind");
  const categorySelect = document.getElementById("f-category");
  // One outbox per account: on a shared device, one user's draft must never be sent in another's name.
  const OUTBOX_KEY = `sitaware.outbox.v1.${config.user}`;
  const RETRY_MS = 15000;
  let draftId = null; // the id of the record being written; kept across failed attempts
  let flushing = false;

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  }
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  // The cookie's token at the time of sending: a page opened from the offline copy may be older than the last
  // sign-in, which changed the token; the page's own token is the fallback.
  function csrf() {
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.slice(10)) : form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // Pages served over plain HTTP on a LAN address have no randomUUID (not a secure context).
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function say(text, link) {
    statusBox.textContent = text;
    if (link) { statusBox.append(" "); statusBox.append(el("a", S.open, { href: link })); }
  }

  // ------------------------------------------------------------ kind → category

  const allCategories = config.categories;
  function fillCategories() {
    const kind = kindSelect.value;
    const keep = categorySelect.value;
    categorySelect.replaceChildren(el("option", S.choose_category, { value: "" }));
    for (const c of allCategories) {
      if (c.kind !== kind) continue;
      const option = el("option", (c.parent ? "– " : "") + c.label, { value: c.code });
      if (c.code === keep) option.selected = true;
      categorySelect.append(option);
    }
  }
  kindSelect.addEventListener("change", fillCategories);

  // ------------------------------------------------------------ reading the form

  function pad(n) { return String(n).padStart(2, "0"); }
  function toLocalInput(date) {
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
      pad(date.getMinutes());
  }
  const occurred = document.getElementById("f-occurred");
  occurred.value = toLocalInput(occurred.dataset.iso ? new Date(occurred.dataset.iso) : new Date());

  const record = config.record;
  if (record && record.casualties) {
    for (const [group, counts] of Object.entries(record.casualties)) {
      for (const [count, n] of Object.entries(counts)) {
        const input = document.getElementById(`f-cas-${group}-${count}`);
        if (input) input.value = n;
      }
    }
  }

  function number(text) {
    const cleaned = String(text).trim().replace(",", ".");
    return cleaned === "" || isNaN(Number(cleaned)) ? cleaned : Number(cleaned);
  }

  // The payload as the API takes it. Values the API would refuse are still sent, so its message is shown.
  function readForm() {
    const data = new FormData(form);
    const payload = {};
    for (const name of ["kind", "category", "title", "narrative", "time_precision", "location_precision", "admin1",
      "admin2", "place_name", "source_type", "source_reliability", "source_identity"]) {
      if (data.has(name)) payload[name] = data.get(name);
    }
    payload.information_credibility = Number(data.get("information_credibility"));
    payload.sensitivity = Number(data.get("sensitivity"));
    payload.latitude = number(data.get("latitude"));
    payload.longitude = number(data.get("longitude"));
    const when = occurred.value ? new Date(occurred.value) : null;
    payload.occurred_at = when && !isNaN(when) ? when.toISOString() : occurred.value;
    const casualties = {};
    for (const input of form.querySelectorAll("input.count")) {
      if (input.value === "") continue;
      casualties[input.dataset.group] = casualties[input.dataset.group] || {};
      casualties[input.dataset.group][input.dataset.count] = number(input.value);
    }
    payload.casualties = casualties;
    return payload;
  }

  // For an edit, only what changed (plus base_version): fields withheld from the editor are never sent back.
  function changesOf(payload) {
    const out = {};
    for (const [name, value] of Object.entries(payload)) {
      const before = record[name];
      if (name === "occurred_at") {
        // The input has minutes only: an untouched time must not become an edit that drops the seconds.
        if (occurred.value !== toLocalInput(new Date(before))) out[name] = value;
      } else if (name === "casualties") {
        if (JSON.stringify(value) !== JSON.stringify(before || {})) out[name] = value;
      } else if (String(value) !== String(before === null || before === undefined ? "" : before)) {
        out[name] = value;
      }
    }
    return out;
  }

  // ------------------------------------------------------------ errors next to fields

  function clearErrors() {
    errorBox.hidden = true;
    errorList.replaceChildren();
    for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
    for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
  }

  function showErrors(errors) {
    clearErrors();
    for (const problem of errors) {
      const field = String(problem.field || "request");
      // casualties.civilians.killed → the casualties slot; a whole-record rule has no field of its own.
      const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`) ||
        form.querySelector(`[data-error-for="${CSS.escape(field.split(".")[0])}"]`);
      let target = null;
      if (slot) {
        slot.textContent = slot.textContent ? `${slot.textContent} ${problem.message}` : problem.message;
        target = form.querySelector(`[aria-describedby~="${slot.id}"]`);
        if (target) target.setAttribute("aria-invalid", "true");
      }
      const item = el("li");
      if (target && target.id) {
        item.append(el("a", `${field}: ${problem.message}`, { href: `#${target.id}` }));
      } else {
        item.textContent = field === "request" ? problem.message : `${field}: ${problem.message}`;
      }
      errorList.append(item);
    }
    errorBox.hidden = false;
    errorBox.focus();
  }

  // ------------------------------------------------------------ outbox (drafts kept on this device)

  function outbox() {
    try { return JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]"); } catch (e) { return []; }
  }
  function saveOutbox(items) {
    localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
    showOutbox();
  }
  function keep(entry) {
    const items = outbox().filter((item) => item.key !== entry.key);
    items.push(entry);
    saveOutbox(items);
  }
  function showOutbox() {
    const items = outbox();
    const box = document.getElementById("outbox-box");
    const list = document.getElementById("outbox");
    list.replaceChildren(...items.map((item) => el("li", `${item.title || S.untitled} (${item.savedAt})` +
      (item.error ? ` — ${item.error}` : ""))));
    box.hidden = items.length === 0;
  }

  // One request. Resolves to {status, body}; rejects (TypeError) only when there is no connection.
  async function send(entry) {
    const response = await fetch(entry.url, {
      method: entry.method,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(entry.body),
    });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { status: response.status, body: body };
  }

  // Sends what is kept, oldest first; stops at the first that still cannot leave. Never two at once.
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (const entry of outbox()) {
        let answer;
        try { answer = await send(entry); } catch (e) { return; } // still offline
        const rest = outbox().filter((item) => item.key !== entry.key);
        if (answer.status === 200 || answer.status === 201) {
          saveOutbox(rest);
          say(fmt(S.sent_later, { title: entry.title || S.untitled }),
            config.editUrl.replace("RECORD_ID", answer.body.id));
        } else if (answer.status === 401 || answer.status === 403) {
          say(S.signed_out);
          return;
        } else if (answer.status >= 500) {
          return; // the server is struggling: try again later
        } else {
          // Refused (400, 409): resending cannot help; keep it visible with the reason, stop retrying it.
          const detail = (answer.body && (answer.body.detail || "")) || String(answer.status);
          saveOutbox(rest);
          keepRefused(entry, detail);
        }
      }
    } finally {
      flushing = false;
    }
  }
  function keepRefused(entry, detail) {
    say(`${entry.title || S.untitled}: ${detail}`);
  }

  window.addEventListener("online", flush);
  setInterval(() => { if (outbox().length && navigator.onLine !== false) flush(); }, RETRY_MS);

  // ------------------------------------------------------------ submit

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const payload = readForm();
    let entry;
    if (config.mode === "edit") {
      const changes = changesOf(payload);
      if (!Object.keys(changes).length) { say(S.no_change); return; }
      changes.base_version = record.version;
      const reason = document.getElementById("f-reason").value.trim();
      if (reason) changes.reason = reason;
      entry = { key: `patch:${record.id}:${record.version}`, method: "PATCH",
        url: config.recordUrl.replace("RECORD_ID", record.id), body: changes };
    } else {
      draftId = draftId || newId();
      payload.id = draftId;
      payload.taxonomy_version = config.taxonomy;
      entry = { key: `post:${draftId}`, method: "POST", url: config.createUrl, body: payload };
    }
    entry.title = payload.title || "";
    entry.savedAt = new Date().toLocaleString();
    say(S.saving);
    let answer;
    try {
      answer = await send(entry);
    } catch (e) {
      keep(entry);
      say(S.kept);
      return;
    }
    if (answer.status === 200 || answer.status === 201) {
      const link = config.editUrl.replace("RECORD_ID", answer.body.id);
      if (config.mode === "edit") {
        say(S.updated, link);
        config.record = answer.body;
        window.location.reload();
        return;
      }
      say(S.saved, link);
      form.reset();
      occurred.value = toLocalInput(new Date());
      fillCategories();
      draftId = null; // the next record is a new one
    } else if (answer.status === 400 && answer.body && answer.body.errors) {
      say(S.invalid);
      showErrors(answer.body.errors);
    } else if (answer.status === 409) {
      say(fmt(S.conflict, { version: (answer.body && answer.body.current_version) || "?" }));
    } else if (answer.status === 401) {
      keep(entry);
      say(S.signed_out);
    } else if (answer.status === 403) {
      say(fmt(S.denied, { detail: (answer.body && answer.body.detail) || "" }));
    } else {
      keep(entry);
      say(fmt(S.failed, { status: answer.status }));
    }
  });

  // ------------------------------------------------------------ pick on map (MapLibre loaded on demand)

  const pickButton = document.getElementById("pick-map-button");
  const pickBox = document.getElementById("pick-map-box");
  const pickStatus = document.getElementById("pick-map-status");
  const lat = document.getElementById("f-lat");
  const lon = document.getElementById("f-lon");
  let map = null;
  let marker = null;

  function load(tag, attrs) {
    return new Promise((resolve, reject) => {
      const node = el(tag, null, attrs);
      node.onload = resolve;
      node.onerror = reject;
      document.head.append(node);
    });
  }

  function setPlace(lngLat) {
    lat.value = lngLat.lat.toFixed(5);
    lon.value = lngLat.lng.toFixed(5);
    if (marker) marker.setLngLat(lngLat);
    else marker = new maplibregl.Marker().setLngLat(lngLat).addTo(map);
    pickStatus.textContent = fmt(S.place_set, { lat: lat.value, lon: lon.value });
  }

  async function openMap() {
    pickBox.hidden = false;
    pickButton.setAttribute("aria-expanded", "true");
    if (map) return;
    pickStatus.textContent = S.map_loading;
    try {
      if (!window.maplibregl) {
        await Promise.all([load("link", { rel: "stylesheet", href: config.maplibreCss }),
          load("script", { src: config.maplibreJs })]);
      }
      if (!window.sitawareBasemap) await load("script", { src: config.basemapJs });
      const y = Number(lat.value), x = Number(lon.value);
      const valid = lat.value && lon.value && Math.abs(y) <= 90 && Math.abs(x) <= 180 && (x || y);
      const start = valid ? [x, y] : null;
      map = new maplibregl.Map({
        container: "pick-map",
        // The map page's basemap (static/web/basemap.js): this server's GeoJSON or tiles only, no glyphs or
        // sprites, so nothing leaves the machine.
        style: window.sitawareBasemap.style(config.basemap || { type: "geojson", url: config.basemapUrl }),
        center: start || [config.view[0], config.view[1]],
        zoom: start ? 9 : config.view[2],
        attributionControl: false,
      });
      window.sitawareBasemap.provinces(map, config.basemap);
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
      map.on("click", (e) => setPlace(e.lngLat));
      if (start) map.on("load", () => setPlace({ lng: start[0], lat: start[1] }));
      window.sitawarePickMap = map;
      pickStatus.textContent = S.map_hint;
    } catch (e) {
      pickStatus.textContent = S.map_failed;
      pickStatus.dataset.error = String(e && e.message || e);
    }
  }

  pickButton.addEventListener("click", () => {
    if (!pickBox.hidden) {
      pickBox.hidden = true;
      pickButton.setAttribute("aria-expanded", "false");
      return;
    }
    openMap();
  });
  document.getElementById("pick-centre").addEventListener("click", () => { if (map) setPlace(map.getCenter()); });

  // ------------------------------------------------------------ start

  fillCategories();
  showOutbox();
  // The service worker keeps this page and its files so the form opens with no connection (web/sw.js). Browsers
  // offer it only on HTTPS or localhost; elsewhere drafts are still kept, but only in a page already open.
  const offlineNote = document.getElementById("offline-note");
  const showConnection = () => { if (offlineNote) offlineNote.hidden = navigator.onLine !== false; };
  window.addEventListener("online", showConnection);
  window.addEventListener("offline", showConnection);
  showConnection();
  if (serviceWorkerUrl && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(serviceWorkerUrl, { updateViaCache: "none" }).catch(() => {});
  }
  if (outbox().length && navigator.onLine !== false) flush();
  window.sitawareForm = { outbox: outbox, flush: flush, key: OUTBOX_KEY };
})();
