"""Measures shared by the tests and the benchmarks. Pure: no Django."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sitaware.triage import redact

EVAL_DIR = Path(__file__).resolve().parent / "eval"


def load_corpus(name: str = "pii_corpus.json") -> list[dict[str, Any]]:
    return json.loads((EVAL_DIR / name).read_text(encoding="utf-8"))["items"]


def pii_recall(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Recall per kind: a gold piece counts as found when the redacted copy no longer contains it (a detected
    span of any kind covers it entirely). Also counts detected spans that overlap no gold piece (false alarms)."""
    found: dict[str, int] = {}
    total: dict[str, int] = {}
    false_alarms = 0
    misses: list[dict[str, str]] = []
    for item in items:
        text = item["text"]
        spans = redact.find_personal_data(text)
        gold_ranges = []
        for piece in item["pii"]:
            start = text.index(piece["text"])
            end = start + len(piece["text"])
            gold_ranges.append((start, end))
            total[piece["kind"]] = total.get(piece["kind"], 0) + 1
            if any(s.start <= start and s.end >= end for s in spans):
                found[piece["kind"]] = found.get(piece["kind"], 0) + 1
            else:
                misses.append({"id": item["id"], "kind": piece["kind"]})
        false_alarms += sum(1 for s in spans if not any(s.start < e and s.end > b for b, e in gold_ranges))
    per_kind = {k: {"found": found.get(k, 0), "total": n, "recall": round(found.get(k, 0) / n, 3)}
                for k, n in sorted(total.items())}
    all_found, all_total = sum(found.values()), sum(total.values())
    return {"per_kind": per_kind, "recall": round(all_found / all_total, 3) if all_total else None,
            "false_alarms": false_alarms, "texts": len(items), "misses": misses}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def f1_scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    """Weighted and macro F1 over the gold classes (sklearn's definitions, without sklearn)."""
    classes = sorted(set(gold))
    f1s, weights = [], []
    for c in classes:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
        weights.append(tp + fn)
    n = sum(weights)
    return {"weighted_f1": round(sum(f * w for f, w in zip(f1s, weights, strict=True)) / n, 4) if n else 0.0,
            "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
            "accuracy": round(sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold), 4)}
