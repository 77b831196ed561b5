"""Where the demo's records happen: the places of the UCDP GED events in the Central African Republic, weighted
by how many events each saw. Pure: no Django.

The events file is read from ``../shared/data`` beside the repository when it is there. Without it the demo
falls back to the table below: the 40 places with most precisely located UCDP events, with their coordinates,
admin1/admin2 and event counts, so `make run` works on a machine that has only the repository.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Central African Republic, with a little margin: (min_lon, min_lat, max_lon, max_lat).
CAR_BBOX = (14.4, 2.2, 27.5, 11.1)
REPO_DIR = Path(__file__).resolve().parents[4]
UCDP_EVENTS = REPO_DIR.parent / "shared" / "data" / "events" / "ucdp_ged_caf" / "ged231_caf_events.csv"

# UCDP where_prec -> our location precision; 5 and worse (region, country) are too vague to place a record.
PRECISION = {"1": "exact", "2": "near", "3": "admin2", "4": "admin1"}
# How far, in degrees, a demo record may wander from the point its place is known by.
JITTER = {"exact": 0.01, "near": 0.05, "admin2": 0.12, "admin1": 0.25}


@dataclass(frozen=True)
class Place:
    name: str
    admin1: str
    admin2: str
    latitude: float
    longitude: float
    precision: str
    weight: int


def _strip(value: str, *suffixes: str) -> str:
    value = value.strip()
    for suffix in suffixes:
        if value.endswith(suffix):
            return value[: -len(suffix)].strip()
    return value


def load_ucdp_places(path: Path) -> list[Place]:
    """Distinct places of the events file with their event counts (rows too vaguely located are left out)."""
    counts: Counter[tuple[str, str, str, float, float, str]] = Counter()
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            precision = PRECISION.get((row.get("where_prec") or "").strip())
            admin1 = _strip(row.get("adm_1") or "", " province")
            if precision is None or not admin1:
                continue
            admin2 = _strip(row.get("adm_2") or "", " region")
            name = _strip(row.get("where_coordinates") or "", " city", " town", " village", " region")
            counts[(name or admin2 or admin1, admin1, admin2, float(row["latitude"]), float(row["longitude"]),
                    precision)] += 1
    places = [Place(name, a1, a2, lat, lon, prec, n) for (name, a1, a2, lat, lon, prec), n in counts.items()]
    return sorted(places, key=lambda p: (-p.weight, p.name, p.latitude, p.longitude))


def fallback_places() -> list[Place]:
    return [Place(name, a1, a2, lat, lon, "exact", n) for name, a1, a2, lat, lon, n in FALLBACK]


def demo_places(path: Path | None = None) -> tuple[list[Place], str]:
    """The places to use and a word on where they came from."""
    source = path or UCDP_EVENTS
    if source.exists():
        places = load_ucdp_places(source)
        if places:
            return places, f"UCDP GED events ({source})"
    return fallback_places(), "built-in table of 40 CAR towns (UCDP events file not found)"


# name, admin1, admin2, latitude, longitude, UCDP GED 23.1 events located there (precision 1-2).
FALLBACK: tuple[tuple[str, str, str, float, float, int], ...] = (
    ("Bangui", "Bangui", "Bangui", 4.366667, 18.583333, 221),
    ("Bria", "Haute-Kotto", "Bria", 6.54233, 21.98633, 69),
    ("Bambari", "Ouaka", "Bambari", 5.765278, 20.674167, 68),
    ("Alindao", "Basse-Kotto", "Alindao", 5.026665, 21.208762, 31),
    ("Obo", "Haut-Mbomou", "Obo", 5.399784, 26.486881, 28),
    ("Birao", "Vakaga", "Birao", 10.137198, 22.788445, 27),
    ("Batangafo", "Ouham", "Batangafo", 7.300818, 18.283269, 27),
    ("Bossangoa", "Ouham", "Bossangoa", 6.492629, 17.455184, 24),
    ("Kaga Bandoro", "Nana-Grébizi", "Kaga-Bandoro", 6.983333, 19.183333, 23),
    ("Boda", "Lobaye", "Boda", 4.316667, 17.466667, 16),
    ("N'délé", "Bamingui-Bangoran", "Ndélé", 8.409167, 20.653056, 15),
    ("Dekoa", "Kémo", "Dékoa", 6.32, 19.08, 15),
    ("Bangassou", "Mbomou", "Bangassou", 4.838954, 23.117389, 14),
    ("Ippy", "Ouaka", "Ippy", 6.25984, 21.20004, 13),
    ("Zemio", "Haut-Mbomou", "Zemio", 5.03144, 25.13614, 13),
    ("Mbrès", "Nana-Grébizi", "Mbrès", 6.668731, 19.796373, 12),
    ("Bouar", "Nana-Mambéré", "Bouar", 5.933314, 15.59317, 12),
    ("Bakala", "Ouaka", "Bakala", 6.197114, 20.38748, 12),
    ("Bocaranga", "Ouham-Pendé", "Bocaranga", 6.983333, 15.65, 12),
    ("Markounda", "Ouham", "Markounda", 7.62768, 16.963783, 11),
    ("Bouca", "Ouham", "Bouca", 6.510464, 18.27331, 11),
    ("Sibut", "Kémo", "Sibut", 5.733333, 19.083333, 11),
    ("Grimari", "Ouaka", "Grimari", 5.739892, 20.053899, 11),
    ("Ngakobo", "Ouaka", "Bambari", 5.323333, 20.709722, 11),
    ("Djemah", "Haut-Mbomou", "Djema", 6.046279, 25.326075, 10),
    ("Bozoum", "Ouham-Pendé", "Bozoum", 6.317222, 16.378333, 10),
    ("Paoua", "Ouham-Pendé", "Paoua", 7.243883, 16.439746, 10),
    ("Ndassima", "Ouaka", "Bambari", 6.138944, 20.777868, 9),
    ("Nzako", "Mbomou", "Bakouma", 6.137611, 22.864256, 9),
    ("Sam Ouandja", "Haute-Kotto", "Ouadda", 8.527696, 23.249866, 8),
    ("Ouanda Djallé", "Vakaga", "Ouanda Djallé", 8.898014, 22.79972, 8),
    ("Bérbérati", "Mambéré-Kadéi", "Berbérati", 4.255473, 15.787529, 8),
    ("Bakouma", "Mbomou", "Bakouma", 5.70611, 22.77953, 8),
    ("Begoua", "Ombella-M'Poko", "Bimbo", 4.449409, 18.535682, 8),
    ("Kouango", "Ouaka", "Kouango", 4.994373, 19.980654, 8),
    ("Bossembele", "Ombella-M'Poko", "Bossembélé", 5.266667, 17.65, 7),
    ("Kabo", "Ouham", "Kabo", 7.65, 18.616667, 7),
    ("Ngaoundaye", "Ouham-Pendé", "Ngaoundaye", 7.477371, 15.604851, 7),
    ("Baoro", "Nana-Mambéré", "Baoro", 5.695, 15.955, 7),
    ("Carnot", "Mambéré-Kadéi", "Carnot", 4.94, 15.87, 7),
)
