"""Generated records that look like the real thing. Pure: no Django.

Records cluster around the towns of the Central African Republic (most in Bangui, fewer in the
prefecture towns, some in the bush between them), spread over two years with a weekly rhythm, over
every leaf category of the default taxonomy, with narratives of the length field reports have.
The generator is seeded, so a run is repeatable and a second import of the same seed is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TAXONOMY = "sitaware-default@1.0"
TAXONOMY_FILE = (
    Path(__file__).resolve().parents[1] / "src" / "sitaware" / "records" / "taxonomies" / "sitaware-default-1.0.json"
)
# Approximate town centres (public gazetteer knowledge) with a weight for how much is reported there.
TOWNS: tuple[tuple[str, str, float, float, float], ...] = (
    ("Bangui", "Bangui", 4.3612, 18.5550, 30.0),
    ("Bimbo", "Ombella-M'Poko", 4.2567, 18.4158, 5.0),
    ("Bégoua", "Ombella-M'Poko", 4.4500, 18.5300, 3.0),
    ("Damara", "Ombella-M'Poko", 4.9600, 18.7000, 1.5),
    ("Boali", "Ombella-M'Poko", 4.8000, 18.1250, 1.0),
    ("Berbérati", "Mambéré-Kadéï", 4.2612, 15.7922, 4.0),
    ("Carnot", "Mambéré-Kadéï", 4.9409, 15.8776, 2.0),
    ("Gamboula", "Mambéré-Kadéï", 4.1180, 15.1390, 1.0),
    ("Bambari", "Ouaka", 5.7620, 20.6672, 5.0),
    ("Grimari", "Ouaka", 5.7300, 20.0500, 1.5),
    ("Ippy", "Ouaka", 6.2670, 21.2250, 1.5),
    ("Bouar", "Nana-Mambéré", 5.9340, 15.5960, 3.0),
    ("Baboua", "Nana-Mambéré", 5.7920, 14.8190, 1.0),
    ("Bossangoa", "Ouham", 6.4926, 17.4552, 3.0),
    ("Batangafo", "Ouham", 7.3009, 18.2833, 2.0),
    ("Kabo", "Ouham", 7.6994, 18.6291, 1.0),
    ("Markounda", "Ouham", 7.6160, 17.0000, 1.0),
    ("Bouca", "Ouham", 6.5100, 18.2770, 1.0),
    ("Bria", "Haute-Kotto", 6.5423, 21.9863, 4.0),
    ("Ouadda", "Haute-Kotto", 8.0770, 22.4010, 0.5),
    ("Sam Ouandja", "Haute-Kotto", 8.5470, 23.9260, 0.5),
    ("Bangassou", "Mbomou", 4.7413, 22.8184, 3.0),
    ("Rafaï", "Mbomou", 4.9500, 23.9330, 0.8),
    ("Bakouma", "Mbomou", 5.6980, 22.7830, 0.5),
    ("Nola", "Sangha-Mbaéré", 3.5258, 16.0520, 1.0),
    ("Kaga-Bandoro", "Nana-Grébizi", 6.9896, 19.1874, 3.0),
    ("Mbrès", "Nana-Grébizi", 6.6680, 19.8000, 0.8),
    ("Sibut", "Kémo", 5.7186, 19.0739, 1.5),
    ("Dékoa", "Kémo", 6.3170, 19.0830, 0.8),
    ("Mbaïki", "Lobaye", 3.8680, 17.9890, 1.5),
    ("Boda", "Lobaye", 4.3180, 17.4700, 1.0),
    ("Bozoum", "Ouham-Pendé", 6.3172, 16.3776, 1.5),
    ("Paoua", "Ouham-Pendé", 7.2430, 16.4400, 2.0),
    ("Bocaranga", "Ouham-Pendé", 7.0167, 15.6333, 1.5),
    ("Ndélé", "Bamingui-Bangoran", 8.4109, 20.6473, 2.0),
    ("Birao", "Vakaga", 10.2849, 22.7882, 2.0),
    ("Obo", "Haut-Mbomou", 5.3998, 26.4869, 1.5),
    ("Zémio", "Haut-Mbomou", 5.0314, 25.1361, 1.5),
    ("Alindao", "Basse-Kotto", 5.0270, 21.2090, 1.5),
    ("Mobaye", "Basse-Kotto", 4.3190, 21.1840, 1.0),
    ("Yaloké", "Ombella-M'Poko", 5.3160, 17.0860, 1.0),
    ("Kouango", "Ouaka", 4.9990, 19.9840, 0.8),
)
# The country's bounding box (lon, lat), for the share of records placed away from any town.
CAR_BBOX = (14.42, 2.22, 27.46, 11.0)
STATUSES = (("draft", 0.08), ("in_review", 0.10), ("verified", 0.30), ("published", 0.42), ("archived", 0.10))
SENSITIVITIES = ((0, 0.30), (1, 0.45), (2, 0.20), (3, 0.05))
SOURCE_TYPES = ("field_report", "patrol_report", "host_state_police", "un_component", "partner", "ngo",
                "community", "hotline", "media", "social_media")
TIME_PRECISIONS = (("exact", 0.2), ("hour", 0.35), ("day", 0.35), ("week", 0.07), ("month", 0.03))
LOCATION_PRECISIONS = (("exact", 0.5), ("near", 0.3), ("admin2", 0.15), ("admin1", 0.05))
WORDS = (
    "armed men reported near the market; patrol confirmed the information with community leaders. "
    "Residents fled toward the church compound after gunshots were heard during the night. "
    "Local authorities requested a joint patrol on the road to the river crossing. "
    "Two suspects were handed over to the gendarmerie; the victims received medical care. "
    "Cattle herders and farmers clashed over grazing land; the situation remains tense. "
    "Humanitarian partners suspended movements on the axis pending a security assessment."
).split()


@dataclass(frozen=True)
class Unit:
    organisation: str
    code: str
    name: str
    town: str


# Two organisations, many units: UNPOL team sites and host-state police stations in the larger towns.
UNITS: tuple[Unit, ...] = (
    *(Unit("unpol", f"unpol-{t.lower()}", f"UNPOL {t}", t) for t in (
        "Bangui", "Bria", "Bambari", "Kaga-Bandoro", "Bouar", "Bossangoa", "Bangassou", "Berbérati",
        "Ndélé", "Birao", "Paoua", "Obo")),
    *(Unit("hsp", f"cnp-{t.lower()}", f"CNP {t}", t) for t in (
        "Bangui", "Bimbo", "Bambari", "Berbérati", "Bouar", "Bossangoa", "Carnot", "Sibut")),
)
# Share of records each organisation holds.
ORG_SHARE = {"unpol": 0.7, "hsp": 0.3}


def leaf_categories() -> list[tuple[str, str]]:
    data = json.loads(TAXONOMY_FILE.read_text(encoding="utf-8"))
    parents = {c["parent"] for c in data["categories"] if c.get("parent")}
    return [(c["code"], c["kind"]) for c in data["categories"] if c["code"] not in parents]


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


class RecordGenerator:
    """Yields record payloads (what an importer hands to bulk_upsert) for one organisation."""

    def __init__(self, organisation: str, *, seed: int = 7, end: dt.datetime | None = None, days: int = 730):
        self.organisation = organisation
        self.rng = random.Random(f"{seed}:{organisation}")
        # Midnight today, so generators made minutes apart (a re-import) make the same rows.
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.end = (end or today) - dt.timedelta(days=1)
        self.span = days * 86400
        self.categories = leaf_categories()
        self.units = [u for u in UNITS if u.organisation == organisation]
        self.towns = list(TOWNS)
        self.town_weights = [t[4] for t in TOWNS]
        self.unit_by_town = {u.town: u for u in self.units}

    def _place(self) -> tuple[float, float, str, str]:
        rng = self.rng
        if rng.random() < 0.12:
            min_lon, min_lat, max_lon, max_lat = CAR_BBOX
            return (round(rng.uniform(min_lat, max_lat), 5), round(rng.uniform(min_lon, max_lon), 5), "", "")
        name, admin1, lat, lon, weight = rng.choices(self.towns, self.town_weights)[0]
        # Bigger towns spread wider; ~1 km per 0.009 degrees.
        sigma = 0.02 + 0.004 * weight
        return (round(rng.gauss(lat, sigma), 5), round(rng.gauss(lon, sigma), 5), admin1, name)

    def _time(self) -> dt.datetime:
        rng = self.rng
        # Reports grow over the period (later months busier) and bunch in the evening.
        back = self.span * (1 - math.sqrt(rng.random()))
        when = self.end - dt.timedelta(seconds=back)
        hour = min(23, max(0, int(rng.gauss(17, 5))))
        return when.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))

    def _unit(self, place_name: str) -> Unit:
        return self.unit_by_town.get(place_name) or self.rng.choice(self.units)

    def payload(self, number: int) -> dict[str, Any]:
        rng = self.rng
        lat, lon, admin1, place = self._place()
        occurred = self._time()
        category, kind = rng.choice(self.categories)
        killed = rng.choice((0, 0, 0, 0, 0, 1, 1, 2, 3, 5)) if kind != "activity" else 0
        words = rng.randint(15, 60)
        start = rng.randrange(len(WORDS) - 1)
        narrative = " ".join(WORDS[(start + i) % len(WORDS)] for i in range(words))
        payload: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "kind": kind,
            "category": category,
            "taxonomy_version": TAXONOMY,
            "title": f"{category.rsplit('.', 1)[-1].replace('_', ' ').capitalize()} near {place or 'the road'}",
            "narrative": narrative,
            "occurred_at": occurred.isoformat(),
            "time_precision": _pick(rng, TIME_PRECISIONS),
            "reported_at": (occurred + dt.timedelta(hours=rng.randint(1, 72))).isoformat(),
            "latitude": lat,
            "longitude": lon,
            "location_precision": _pick(rng, LOCATION_PRECISIONS),
            "admin1": admin1,
            "place_name": place,
            "source_type": rng.choice(SOURCE_TYPES),
            "source_reliability": rng.choice("ABCDEF"),
            "information_credibility": rng.randint(1, 6),
            "sensitivity": _pick(rng, SENSITIVITIES),
            "status": _pick(rng, STATUSES),
            "reporting_unit": self._unit(place).code,
            "external_source": "bench",
            "external_id": f"{self.organisation}-{number}",
        }
        if rng.random() < 0.3:
            payload["source_identity"] = f"informant {rng.randint(1, 400)}"
        if killed or rng.random() < 0.1:
            payload["casualties"] = {"civilians": {"killed": killed, "injured": rng.randint(0, 4)}}
        return payload

    def rows(self, start: int, count: int) -> Iterator[tuple[int, dict[str, Any]]]:
        for number in range(start, start + count):
            yield number, self.payload(number)


def split_by_organisation(total: int) -> dict[str, int]:
    unpol = round(total * ORG_SHARE["unpol"])
    return {"unpol": unpol, "hsp": total - unpol}
