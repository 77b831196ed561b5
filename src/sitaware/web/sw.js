// The service worker that lets the record form open with no connection at all (served by web/views_offline.py
// at /sw.js, so its scope covers the form and the sign-in and sign-out URLs).
//
// What it keeps, in one cache named after this version: the form page (/records/new) as last loaded by the signed-in
// user, and the static files it uses. Nothing else: API answers, records, edit pages, the map's data and every
// other page pass through untouched and are never stored. The page is fetched from the network first (a fresh CSRF
// token, the user's current taxonomy and clearance), and the copy is used only when the network fails. Signing in
// or out empties the cache, so one person's page is never shown to the next. A new deployment changes the
// version (a hash of this file and the files it keeps), which installs a new worker that replaces the old cache.
"use strict";

const CONFIG = __SW_CONFIG__; // {version, formUrl, assets: [...], clearOn: [...]} from the server
const PREFIX = "sitaware-form-";
const CACHE = PREFIX + CONFIG.version;
const NETWORK_WAIT_MS = 8000; // a link this slow is treated as down for the page (the copy is shown)

function cacheable(response) {
  return response && response.ok && response.type === "basic" && !response.redirected;
}

async function keepPage(cache) {
  // Best effort: a user whose session ended gets the sign-in page (a redirect), which is never kept.
  try {
    const response = await fetch(CONFIG.formUrl, { credentials: "same-origin", cache: "no-store" });
    if (cacheable(response)) await cache.put(CONFIG.formUrl, response);
  } catch (error) { /* offline while installing: the page is kept on the next online visit */ }
}

const INSTALL_ATTEMPTS = 3;

async function keepAsset(cache, url) {
  // cache: "reload": this version's files, not an older copy from the browser's HTTP cache. Each file is fetched
  // on its own (not cache.addAll) so that a failure names the file and the server's answer.
  let response;
  try {
    response = await fetch(new Request(url, { cache: "reload" }));
  } catch (error) {
    throw new Error(`${url}: ${error}`);
  }
  if (!cacheable(response)) {
    throw new Error(`${url}: HTTP ${response.status}${response.redirected ? ` (redirected to ${response.url})` : ""}`);
  }
  await cache.put(url, response);
}

async function keepAssets(cache) {
  // One failed request fails the install, and a failed install leaves this version unused until the browser checks
  // again (the next navigation): a server busy for a moment must not cost the release, so try a few times.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await Promise.all(CONFIG.assets.map((url) => keepAsset(cache, url)));
      return;
    } catch (error) {
      // For whoever reads the browser's console (an operator checking a release): which file failed, and how.
      console.warn(`sitaware service worker ${CONFIG.version}: install attempt ${attempt} of ${INSTALL_ATTEMPTS}`
        + ` failed: ${error.message}`);
      if (attempt >= INSTALL_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    try {
      await keepAssets(cache);
    } catch (error) {
      // This version is not installed: leave no half-filled cache behind (the browser tries again later).
      await caches.delete(CACHE);
      throw error;
    }
    await keepPage(cache);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function clearAll() {
  for (const name of await caches.keys()) {
    if (name.startsWith(PREFIX)) await caches.delete(name);
  }
}

async function formPage(request) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then(async (response) => {
    if (cacheable(response)) await cache.put(CONFIG.formUrl, response.clone());
    return response;
  });
  const slow = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT_MS, null));
  try {
    const answer = await Promise.race([network, slow]);
    if (answer) return answer;
  } catch (error) { /* no connection: the kept copy below */ }
  const kept = await cache.match(CONFIG.formUrl, { ignoreVary: true, ignoreSearch: true });
  return kept || network; // nothing kept: the browser's own offline error
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request, { ignoreVary: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (cacheable(response)) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (CONFIG.clearOn.includes(url.pathname) && request.method === "POST") {
    // Signing in or out: nobody's form page stays behind for the next user. The request itself goes on untouched.
    event.waitUntil(clearAll());
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate" && url.pathname === CONFIG.formUrl) {
    event.respondWith(formPage(request));
  } else if (CONFIG.assets.includes(url.pathname + url.search)) {
    event.respondWith(asset(request));
  }
  // Anything else (API, map data, other pages, the live feed): not answered here, so never cached.
});
