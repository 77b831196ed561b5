"""The demo's records, made one at a time from (seed, index): record i is the same whatever the total, so
loading more later adds records without changing the ones already there. Pure: no Django."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sitaware.core.demo import narratives
from sitaware.core.demo.places import CAR_BBOX, JITTER, Place
from sitaware.core.demo.scenario import DEMO_SOURCE, ORGANISATIONS, TAXONOMY, OrgSpec, UnitSpec, author_for
from sitaware.records.taxonomy import Taxonomy, TaxonomyRegistry

STATUSES = ("draft", "in_review", "verified", "published", "archived")
WINDOW = dt.timedelta(days=730)
# Status by age: fresh reports are still being worked on; old ones are published or archived.
STATUS_BY_AGE: tuple[tuple[int, tuple[int, ...]], ...] = (
    (14, (35, 35, 20, 10, 0)),
    (90, (5, 15, 30, 50, 0)),
    (365, (0, 3, 15, 77, 5)),
    (10_000, (0, 0, 5, 60, 35)),
)
SENSITIVE_CATEGORIES = ("police.sgbv", "conflict.violence_against_civilians.sexual_violence",
                        "police.child_recruitment", "police.human_trafficking", "police.abduction",
                        "conflict.violence_against_civilians.abduction")
TIME_PRECISIONS = (("exact", 25), ("hour", 40), ("day", 28), ("week", 5), ("month", 2))
RELIABILITY = "ABCDEF"
INFORMANT_SOURCES = ("community", "hotline", "social_media")


@dataclass(frozen=True)
class DemoRecord:
    index: int
    organisation: str
    author: str
    payload: dict[str, Any]


class _Weighted:
    """A weighted choice with its cumulative weights computed once (rng.choices recomputes them per call)."""

    def __init__(self, items: list[Any], weights: list[int]) -> None:
        self.items = items
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


def _weighted(pairs: tuple[tuple[Any, int], ...] | list[tuple[Any, int]]) -> _Weighted:
    return _Weighted([item for item, _ in pairs], [weight for _, weight in pairs])


class Generator:
    def __init__(self, seed: int, anchor: dt.datetime, places: list[Place],
                 taxonomy: Taxonomy | None = None) -> None:
        if anchor.tzinfo is None:
            raise ValueError("the anchor needs a time zone")
        self.seed = seed
        self.anchor = anchor.astimezone(dt.UTC)
        self.taxonomy = taxonomy or TaxonomyRegistry().get(TAXONOMY)
        self.places = _Weighted(places, [p.weight for p in places])
        self.orgs = _weighted([(org, org.share) for org in ORGANISATIONS])
        self.categories = {org.code: self._categories(org) for org in ORGANISATIONS}

    def _categories(self, org: OrgSpec) -> _Weighted:
        """Categories the organisation records, weighted so each group (conflict, police, ...) gets the
        organisation's share and, within it, each category its template's weight."""
        shares = dict(org.groups)
        chosen = [(code, template.weight) for code, template in narratives.TEMPLATES.items()
                  if _group(code) in shares
                  and not (_group(code) == "activity" and org.activities and code not in org.activities)]
        group_totals: dict[str, int] = defaultdict(int)
        for code, weight in chosen:
            group_totals[_group(code)] += weight
        return _weighted([(code, max(1, round(1000 * shares[_group(code)] * weight / group_totals[_group(code)])))
                          for code, weight in chosen])

    def record(self, index: int) -> DemoRecord:
        rng = random.Random(f"sitaware-demo:{self.seed}:{index}")
        org: OrgSpec = self.orgs.pick(rng)
        place: Place = self.places.pick(rng)
        unit = _nearest_unit(org, place)
        category = self.categories[org.code].pick(rng)
        template = narratives.TEMPLATES[category]
        kind = self.taxonomy.categories[category].kind
        language = _weighted(org.languages).pick(rng)

        age = WINDOW * (rng.random() ** 1.15)  # a little more activity lately
        time_precision = _weighted(TIME_PRECISIONS).pick(rng)
        occurred = _floor(self.anchor - age, time_precision)
        reported = min(self.anchor, occurred + dt.timedelta(minutes=rng.randint(20, 72 * 60)))
        status = STATUSES[index] if index < len(STATUSES) else _status(rng, age)
        sensitivity = index if index < 4 else _sensitivity(rng, category, kind)
        latitude, longitude = _jitter(rng, place)
        source_type = org.activity_source if kind == "activity" else _weighted(org.sources).pick(rng)
        casualties = _casualties(rng, template.casualties)
        context = {
            "when": _when(occurred, time_precision, language),
            "place": place.name,
            "area": place.admin1,
            "actor": rng.choice(narratives.ACTORS[language]),
            "victim": rng.choice(narratives.VICTIMS[language]),
            "n": rng.randint(2, 9),
            "unit": unit.name,
        }
        text = rng.choice(getattr(template, language)).format(**context)
        text += _casualty_sentence(casualties, language)
        label = self.taxonomy.categories[category].label_for(language)
        payload: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "kind": kind,
            "category": category,
            "taxonomy_version": TAXONOMY,
            "title": f"{label}, {place.name}",
            "narrative": text,
            "occurred_at": occurred.isoformat(),
            "time_precision": time_precision,
            "reported_at": reported.isoformat(),
            "latitude": latitude,
            "longitude": longitude,
            "location_precision": place.precision,
            "admin1": place.admin1,
            "admin2": place.admin2,
            "place_name": place.name,
            "source_type": source_type,
            "source_reliability": _reliability(rng, source_type),
            "information_credibility": _weighted(((1, 10), (2, 30), (3, 35), (4, 12), (5, 5), (6, 8))).pick(rng),
            "source_identity": (f"informant {unit.code[:3].upper()}-{rng.randint(100, 999)}"
                                if source_type in INFORMANT_SOURCES and rng.random() < 0.6 else ""),
            "source_reference": f"{org.prefix.upper()}/{unit.code.upper()}/{occurred:%Y}/{index:05d}",
            "casualties": casualties,
            "sensitivity": sensitivity,
            "status": status,
            "reporting_unit": unit.code,
            "external_source": DEMO_SOURCE,
            "external_id": f"seed{self.seed}-{index:06d}",
        }
        return DemoRecord(index, org.code, author_for(org, unit.code, status, sensitivity), payload)


def _group(code: str) -> str:
    return code.split(".", 1)[0]


def _nearest_unit(org: OrgSpec, place: Place) -> UnitSpec:
    # Degrees are good enough to pick the closest of a handful of stations.
    return min(org.units, key=lambda u: (u.latitude - place.latitude) ** 2 + (u.longitude - place.longitude) ** 2)


def _floor(when: dt.datetime, precision: str) -> dt.datetime:
    when = when.replace(second=0, microsecond=0)
    return when if precision == "exact" else when.replace(minute=0)


def _status(rng: random.Random, age: dt.timedelta) -> str:
    for days, weights in STATUS_BY_AGE:
        if age.days < days:
            return _Weighted(list(STATUSES), list(weights)).pick(rng)
    return "published"


def _sensitivity(rng: random.Random, category: str, kind: str) -> int:
    if category.startswith(SENSITIVE_CATEGORIES):
        weights = [5, 20, 45, 30]
    elif kind == "activity":
        weights = [45, 40, 12, 3]
    else:
        weights = [25, 45, 22, 8]
    return _Weighted([0, 1, 2, 3], weights).pick(rng)


def _jitter(rng: random.Random, place: Place) -> tuple[float, float]:
    spread = JITTER[place.precision]
    min_lon, min_lat, max_lon, max_lat = CAR_BBOX
    lat = min(max_lat, max(min_lat, place.latitude + rng.uniform(-spread, spread)))
    lon = min(max_lon, max(min_lon, place.longitude + rng.uniform(-spread, spread)))
    return round(lat, 5), round(lon, 5)


def _reliability(rng: random.Random, source_type: str) -> str:
    if source_type in ("patrol_report", "un_component", "host_state_police", "partner", "field_report"):
        weights = [8, 45, 35, 7, 1, 4]
    else:
        weights = [1, 12, 35, 25, 7, 20]
    return _Weighted(list(RELIABILITY), weights).pick(rng)


def _casualties(rng: random.Random, profile: narratives.Casualty) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for group, (killed, injured, missing) in profile.items():
        if rng.random() > 0.55:
            continue
        counts = {"killed": rng.randint(0, killed), "injured": rng.randint(0, injured),
                  "missing": rng.randint(0, missing)}
        counts = {k: v for k, v in counts.items() if v}
        if counts:
            out[group] = counts
    return out


def _when(at: dt.datetime, precision: str, language: str) -> str:
    month = narratives.MONTHS[language][at.month - 1]
    day = f"{at.day} {month} {at.year}"
    if language == "fr":
        return {"exact": f"Le {day} vers {at:%Hh%M}", "hour": f"Le {day} vers {at:%Hh}00", "day": f"Le {day}",
                "week": f"Au cours de la semaine du {day}", "month": f"En {month} {at.year}"}[precision]
    return {"exact": f"On {day} at about {at:%H:%M}", "hour": f"On {day} at about {at:%H}:00", "day": f"On {day}",
            "week": f"During the week of {day}", "month": f"In {month} {at.year}"}[precision]


def _casualty_sentence(casualties: dict[str, dict[str, int]], language: str) -> str:
    if not casualties:
        return ""
    words = narratives.CASUALTY_WORDS[language]
    colon = " :" if language == "fr" else ":"
    parts = []
    for group, counts in casualties.items():
        # French agrees the participle with the count ("1 tué", "2 tués"); English does not need to.
        described = ", ".join(f"{n} {words[count][:-1] if language == 'fr' and n == 1 else words[count]}"
                              for count, n in counts.items())
        parts.append(f"{words[group]}{colon} {described}")
    return f" {words['intro']}{colon} " + "; ".join(parts) + "."
