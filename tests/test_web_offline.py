"""The record form opens with no connection at all: a service worker keeps the page and its files (issue 3).

Server side: `/sw.js` (scope, headers, version bound to the files it keeps, no user data) and the slow-link
budget with the worker's own downloads counted. In Chromium: load the form once, cut the network, reload: the form
opens from the worker's copy; a record saved then is kept as a draft and sent exactly once when the link is back;
the cache holds the form page and its static files only (never an API answer); signing out empties it.
"""

from __future__ import annotations

import gzip
import json
import re
import time

from tests.web_browser_support import browser_fixture, live_server_fixture, new_page, sign_in  # noqa: F401

FIRST_LOAD_BUDGET = 300_000
CACHED_BUDGET = 30_000


def _worker_config(body: str) -> dict:
    return json.loads(re.search(r"const CONFIG = (\{.*?\}); //", body).group(1))


def test_the_worker_is_served_from_the_root_with_its_version_and_no_user_data(client, world):
    anonymous = client.get("/sw.js")
    assert anonymous.status_code == 200 and anonymous["Content-Type"].startswith("text/javascript")
    assert anonymous["Cache-Control"] == "no-cache"
    body = anonymous.content.decode()
    config = _worker_config(body)
    assert config["formUrl"] == "/records/new"
    assert config["assets"] == ["/static/web/form.js", "/static/web/form.css"]
    assert config["clearOn"] == ["/accounts/login/", "/accounts/logout/"]
    assert re.fullmatch(r"[0-9a-f]{16}", config["version"])
    client.force_login(world.users["rita"])
    assert client.get("/sw.js").content.decode() == body  # the same for everyone: nothing about the user
    # The form page registers it (from the root, so its scope covers the form and sign-in/out).
    page = client.get("/records/new").content.decode()
    assert 'data-service-worker="/sw.js"' in page
    client.post("/i18n/setlang/", {"language": "fr", "next": "/records/new"})
    assert "ouvert depuis la copie gardée sur cet appareil" in client.get("/records/new").content.decode()


def test_a_changed_file_is_a_new_worker_version(client, monkeypatch, tmp_path):
    from sitaware.web import views_offline

    before = views_offline.worker_config()["version"]
    changed = tmp_path / "form.html"
    changed.write_bytes(views_offline.FORM_TEMPLATE.read_bytes() + b"\n")
    monkeypatch.setattr(views_offline, "FORM_TEMPLATE", changed)
    assert views_offline.worker_config()["version"] != before
    worker = tmp_path / "sw.js"
    worker.write_text(views_offline.WORKER.read_text() + "\n// next release\n")
    monkeypatch.setattr(views_offline, "WORKER", worker)
    assert _worker_config(client.get("/sw.js").content.decode())["version"] not in (before,)


def _fetch(client, url: str, gzip_ok: bool = True) -> bytes:
    response = client.get(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    assert response.status_code == 200, url
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_form_with_its_worker_still_fits_a_slow_link(client, world, settings):
    """First load: the page, its static files, the worker script, and what the worker fetches on install (the page
    again and its files, counted again even though the HTTP cache may serve them). Cached: the page only."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client.force_login(world.users["rita"])
    page = _fetch(client, "/records/new")
    html = gzip.decompress(page).decode()
    assets = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    worker = _fetch(client, "/sw.js", gzip_ok=False)
    kept = _worker_config(worker.decode())["assets"]
    assert set(kept) == set(assets)  # the worker keeps exactly what the page loads
    raw = {a: _fetch(client, a, gzip_ok=False) for a in assets}
    first_load = 2 * len(page) + 2 * sum(len(v) for v in raw.values()) + len(worker)
    print(f"form page with worker: first load {first_load} B (raw static, counted twice), cached {len(page)} B")
    assert first_load <= FIRST_LOAD_BUDGET
    assert len(page) <= CACHED_BUDGET


# ------------------------------------------------------------------ in the browser


def _fill(page, title: str) -> None:
    page.select_option("#f-kind", "incident")
    page.select_option("#f-category", "police.armed_robbery")
    page.fill("#f-title", title)
    page.fill("#f-lat", "4.3612")
    page.fill("#f-lon", "18.5550")


def _wait_for(page, script: str, predicate, timeout: float, why=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        found = page.evaluate(script)
        if predicate(found):
            return found
        assert time.monotonic() < deadline, f"{found} {why()}"
        time.sleep(0.2)


def wait_for_caches(page, predicate, timeout: float = 15.0, why=lambda: "") -> dict:
    """Polls the page's Cache Storage until predicate(contents) holds; returns the contents. Only while no cache is
    being deleted: listing a cache opens it, and opening a cache deleted a moment before creates it again, empty (so
    wait for a deletion with wait_for_cache_names)."""
    return _wait_for(page, CACHE_CONTENTS, predicate, timeout, why)


def wait_for_cache_names(page, predicate, timeout: float = 15.0, why=lambda: "") -> list[str]:
    """Polls the names of the page's caches (never opening one) until predicate(names) holds; returns them."""
    return _wait_for(page, "caches.keys()", predicate, timeout, why)


CACHE_CONTENTS = """async () => {
  const out = {};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
  }
  return out;
}"""


def test_the_form_opens_offline_and_its_draft_is_sent_once_when_the_link_is_back(live_server_url, world, browser):
    from sitaware.records.models import Record

    page = new_page(browser)
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    sign_in(page, live_server_url, "rita", "/records/new")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15_000)
    cached = wait_for_caches(page, lambda c: any("/records/new" in paths for paths in c.values()))
    assert len(cached) == 1 and next(iter(cached)).startswith("sitaware-form-")
    assert sorted(next(iter(cached.values()))) == ["/records/new", "/static/web/form.css", "/static/web/form.js"]

    # No connection at all: the form page itself comes from the worker; the server sees nothing.
    from django.core.signals import request_started

    reached: list[str] = []

    def seen(sender, **kwargs):
        scope = kwargs.get("scope") or {}
        reached.append(scope.get("path", "?"))

    page.context.set_offline(True)
    request_started.connect(seen)
    try:
        page.reload()
        page.wait_for_selector("#record-form")
        page.wait_for_function("document.readyState === 'complete'")
        assert page.evaluate("fetch('/api/v1/records').then(() => 'reached', () => 'offline')") == "offline"
    finally:
        request_started.disconnect(seen)
    assert reached == []
    assert page.evaluate("!!navigator.serviceWorker.controller")
    assert page.is_visible("#offline-note") and "opened from the copy" in page.text_content("#offline-note")
    assert page.evaluate("navigator.onLine") is False
    assert page.evaluate("window.sitawareForm.key") == "sitaware.outbox.v1.rita"
    _fill(page, "Opened with no connection")
    page.click("#save")
    page.wait_for_function("document.getElementById('outbox').children.length === 1", timeout=10_000)
    key = "sitaware.outbox.v1.rita"
    kept = page.evaluate("key => JSON.parse(localStorage.getItem(key))", key)
    draft_id = kept[0]["body"]["id"]
    assert not Record.objects.filter(title="Opened with no connection").exists()

    page.context.set_offline(False)
    page.wait_for_function("key => JSON.parse(localStorage.getItem(key) || '[]').length === 0", arg=key,
                           timeout=25_000)
    assert not page.is_visible("#offline-note")
    deadline = time.monotonic() + 5
    while not Record.objects.filter(title="Opened with no connection").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [str(r.id) for r in Record.objects.filter(title="Opened with no connection")] == [draft_id]
    time.sleep(1)
    assert Record.objects.filter(title="Opened with no connection").count() == 1

    # Only the form page and its files were ever kept: no API answer, no other page.
    cached = page.evaluate(CACHE_CONTENTS)
    assert sorted(next(iter(cached.values()))) == ["/records/new", "/static/web/form.css", "/static/web/form.js"]

    # Signing out empties the cache, so the next user of this device never gets this user's page.
    page.evaluate("""() => { const f = document.createElement('form'); f.method = 'post';
        f.action = '/accounts/logout/'; const i = document.createElement('input'); i.type = 'hidden';
        i.name = 'csrfmiddlewaretoken'; i.value = document.cookie.match(/csrftoken=([^;]+)/)[1]; f.append(i);
        document.body.append(f); f.submit(); }""")
    page.wait_for_url(f"{live_server_url}/")
    wait_for_cache_names(page, lambda names: names == [])
    assert page.outside_requests == []
    assert requested and all(u.startswith(live_server_url + "/") for u in requested)


def test_a_new_deployment_replaces_the_worker_and_its_cache(live_server_url, world, browser, monkeypatch, tmp_path):
    from sitaware.web import views_offline

    page = new_page(browser)
    console: list[str] = []  # the worker's console too: a failed install names the file and the server's answer
    page.context.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    sign_in(page, live_server_url, "rita", "/records/new")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15_000)
    (old,) = wait_for_caches(page, lambda c: any("/records/new" in paths for paths in c.values())).keys()
    # The next release: a changed file makes a new version; the browser finds it when it checks (here on the next
    # navigation, as a user's browser does) and the new worker takes over with a fresh cache, the old one deleted.
    worker = tmp_path / "sw.js"
    worker.write_text(views_offline.WORKER.read_text() + "\n// next release\n")
    monkeypatch.setattr(views_offline, "WORKER", worker)
    page.reload()
    # Names only until the old cache is gone: listing it while the new worker deletes it would create it again.
    (new,) = wait_for_cache_names(page, lambda names: len(names) == 1 and names[0] != old, why=lambda: console)
    assert new.startswith("sitaware-form-")
    contents = wait_for_caches(page, lambda c: len(c.get(new, ())) == 3, why=lambda: console)
    assert list(contents) == [new]
    assert sorted(contents[new]) == ["/records/new", "/static/web/form.css", "/static/web/form.js"]
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    assert page.outside_requests == []
