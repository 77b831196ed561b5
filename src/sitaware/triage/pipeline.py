"""The triage pipeline on one text: language, relevance, information type, category, place, personal data,
redacted copy and near-duplicate signature. Pure: no Django; the Django side (services.py) loads the
resources once and stores what comes out.

Every step is advice. The result says which model produced each part so the oversight log can name it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sitaware.oversight.components.category_suggester import CategorySuggester
from sitaware.triage import dedupe, langid, redact, textclass
from sitaware.triage.gazetteer import Gazetteer
from sitaware.triage.textclass import Model

SHIPPED_MODELS = Path(__file__).resolve().parent / "models"


@dataclass
class Resources:
    """What the pipeline reads: each part is optional, and a missing part is reported as not run."""

    gazetteer: Gazetteer | None = None
    relevance: Model | None = None
    info_type: Model | None = None
    category: Model | None = None  # trained from analysts' decisions (sitaware triage retrain)
    suggester: CategorySuggester | None = None  # the taxonomy's keyword suggester (oversight)
    languages: tuple[str, ...] = ("fr", "en")
    versions: dict[str, str] = field(default_factory=dict)
    _not_names: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._not_names = frozenset(self.gazetteer.names) if self.gazetteer else frozenset()

    @property
    def not_names(self) -> frozenset[str]:
        return self._not_names


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Analysis:
    language: dict[str, Any]
    relevance: dict[str, Any] | None
    info_type: dict[str, Any] | None
    categories: list[dict[str, Any]]
    locations: list[dict[str, Any]]
    location: dict[str, Any] | None
    personal_data: dict[str, Any]
    redacted_title: str
    redacted_text: str
    signature: np.ndarray
    facts: frozenset[str]

    def as_json(self) -> dict[str, Any]:
        """Everything but the signature, for storage and display. Personal data: kinds, counts and offsets only."""
        return {"language": self.language, "relevance": self.relevance, "info_type": self.info_type,
                "categories": self.categories, "locations": self.locations, "location": self.location,
                "personal_data": self.personal_data, "facts": sorted(self.facts)}


def _categories(res: Resources, title: str, text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if res.category is not None and (title or text):
        for code, p in res.category.classify(f"{title}\n{text}")[:3]:
            out.append({"category": code, "score": p, "method": "model"})
    if res.suggester is not None:
        result = res.suggester.suggest({"title": title, "narrative": text})
        for s in result.suggestions:
            out.append({"category": s.code, "kind": s.kind, "score": s.share, "method": "keywords",
                        "matched": [e.keyword for e in s.evidence][:5]})
    return out


def analyse(title: str, text: str, res: Resources) -> Analysis:
    full = f"{title}\n{text}".strip()
    lang = langid.identify(full, prefer=res.languages)
    relevance = info = None
    # One feature matrix for both shipped models when they hash alike (they do unless retrained differently).
    x = textclass.matrix([full], res.relevance.dim) if res.relevance is not None and full else None
    if res.relevance is not None and full:
        ranked = res.relevance.classify(full, x)
        relevant_p = dict(ranked).get("relevant", 0.0)
        relevance = {"relevant": relevant_p >= 0.5, "score": round(relevant_p, 4)}
    if res.info_type is not None and full:
        ranked = res.info_type.classify(full, x if x is not None and x.shape[1] == res.info_type.dim else None)
        info = {"label": ranked[0][0], "score": ranked[0][1], "next": ranked[1:3]}
    toponyms = res.gazetteer.find(full) if res.gazetteer else []
    order = {"exact": 0, "near": 1, "admin2": 2, "admin1": 3, "region": 4, "country": 5}
    best = min(toponyms, key=lambda t: (order.get(t.precision, 9), -t.score, t.start)) if toponyms else None
    locations = [{"surface": t.surface, "start": t.start, "end": t.end, "name": t.place.name,
                  "latitude": t.place.lat, "longitude": t.place.lon, "admin1": t.place.admin1,
                  "admin2": t.place.admin2, "pcode": t.place.pcode, "precision": t.precision,
                  "method": t.method, "score": t.score, "homonyms": t.candidates} for t in toponyms]
    location = next((loc for loc, t in zip(locations, toponyms, strict=True) if t is best), None)
    spans_title = redact.find_personal_data(title, not_names=res.not_names)
    spans_text = redact.find_personal_data(text, not_names=res.not_names)
    pii = {"counts": redact.summary(spans_title + spans_text),
           "spans": [{"field": "title", "start": s.start, "end": s.end, "kind": s.kind, "method": s.method}
                     for s in spans_title]
           + [{"field": "text", "start": s.start, "end": s.end, "kind": s.kind, "method": s.method}
              for s in spans_text]}
    # Phones and e-mails help match duplicates, but only as hashes: the stored facts must hold no personal data.
    extra = [hashlib.sha256(dedupe._fold(s.text).replace(" ", "").encode()).hexdigest()[:16]
             for s in spans_title + spans_text if s.kind != "name"]
    facts = dedupe.fingerprint(full, places=[t.place.pcode or t.place.name.lower() for t in toponyms], extra=extra)
    return Analysis(
        language={"code": lang.code, "score": lang.score, "alternatives": list(lang.alternatives)},
        relevance=relevance, info_type=info, categories=_categories(res, title, text), locations=locations,
        location=location, personal_data=pii, redacted_title=redact.redact(title, spans_title),
        redacted_text=redact.redact(text, spans_text), signature=dedupe.signature(full), facts=facts,
    )
