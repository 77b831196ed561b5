"""Geoparsing against a mission gazetteer: find place names in a text and give coordinates with a precision.

Pure: no Django. The operator supplies the gazetteer as a CSV (no package ships enough villages of CAR, DRC,
South Sudan or Mali): columns `name`, `alternate_names` (separated by `;` or `|`), `lat`/`latitude`,
`lon`/`longitude`, `admin1`, `admin2`, `pcode`, `feature_type`, optional `weight` (how often the place is
expected: breaks ties between homonyms).

Matching, and why:
- Names and texts are folded (case, accents, hyphens, apostrophes): reporters write "Kaga-Bandoro",
  "Kaga Bandoro", "KAGA BANDORO", "Ngaoundaye"/"Ngaoundaï".
- Longest name first, so "Bangui M'Poko" wins over "Bangui".
- Spelling tolerance in two steps: a consonant skeleton (c/k/qu → k, ph → f, ou → u, y → i, doubled letters
  once, final e dropped) catches transliteration variants ("Pavica"/"Pavika"); then a similarity ratio
  (rapidfuzz) on capitalised words of five letters or more catches typos. Both are marked `fuzzy` with their
  score, so an analyst sees how sure the match is.
- Only capitalised words are candidates, unless the whole text is lower case (SMS), to avoid matching
  common words that are also village names.

Precision codes follow the record vocabulary: exact (the named place), near (a distance or direction from
it: "12 km north of Obo", "près de Bria"), admin2, admin1, country.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

PRECISIONS = ("exact", "near", "admin2", "admin1", "region", "country")
# Feature types, as operators tend to write them, to the precision a match on them gives.
_TYPE_PRECISION = {
    "country": "country", "admin0": "country",
    "admin1": "admin1", "province": "admin1", "prefecture": "admin1", "préfecture": "admin1", "state": "admin1",
    "region_admin1": "admin1",
    "admin2": "admin2", "region": "admin2", "sub-prefecture": "admin2", "sous-préfecture": "admin2",
    "territory": "admin2", "territoire": "admin2", "county": "admin2", "cercle": "admin2", "district": "admin2",
}
_NEAR_CUE = re.compile(
    r"(\bkm\b|\bkms\b|kilom|\bmiles?\b|\bnear\b|\bnearby\b|\baround\b|\boutskirts?\b|\bvicinity\b|\bclose to\b|"
    r"\bnorth\b|\bsouth\b|\beast\b|\bwest\b|\bpr[eè]s\b|\benvirons?\b|\bproximit[eé]\b|\bnord\b|\bsud\b|\best de\b|"
    r"\bouest\b|\baxe\b|\baxis\b|\broad\b|\broute\b|\bperiph)",
    re.IGNORECASE,
)
# Capitalised words that begin sentences or name things other than places; never fuzzy candidates.
_STOP = frozenset("""
the a an and or of in on at to from by with for near north south east west central upper lower la le les
de du des et ou au aux un une en sur par pour nord sud est ouest haut haute bas basse centre village ville
town city region province prefecture road route axe axis camp market marche area zone quartier district
monday tuesday wednesday thursday friday saturday sunday lundi mardi mercredi jeudi vendredi samedi
dimanche january february march april may june july august september october november december janvier
fevrier mars avril mai juin juillet aout septembre octobre novembre decembre police army armed group
groups rebels rebel soldiers attack attacked killed people civilians government forces minusca monusco
unmiss minusma united nations i as all she he we it if so no but her his its one two most since this that
these there then when what who why how also after before during while until about many some more any each
every both other such only just even still new old officials official health center centre university union
drug officer president minister ministry doctor hospital said says report reports according
""".split())
# One- and two-letter words are places only as part of a longer name ("PK 5", "Bria 2").
_SHORTEST_SINGLE = 3
_TOKEN = re.compile(r"[a-z0-9]+")
_AREA_AFTER = re.compile(
    r"\W{0,3}(region|province|prefecture|préfecture|sub-prefecture|sous-préfecture|territory|territoire|county|"
    r"state|cercle|district|area|zone)\b", re.IGNORECASE)
MAX_TOKENS = 6


@lru_cache(maxsize=8192)  # a few hundred distinct characters in practice; folding each is costly
def fold_char(ch: str) -> str:
    """One character, lower case, without accents; punctuation becomes a space. Keeps offsets one to one."""
    decomposed = unicodedata.normalize("NFKD", ch)
    base = next((c for c in decomposed if not unicodedata.combining(c)), " ")
    base = base.lower()
    return base if base.isalnum() else " "


def fold(text: str) -> str:
    return "".join(fold_char(c) for c in text)


def key(name: str) -> str:
    """A name as the index holds it: folded words separated by one space."""
    return " ".join(_TOKEN.findall(fold(name)))


def skeleton(folded: str) -> str:
    """A coarse spelling key for transliteration variants ('pavica' / 'pavika', 'ngaoundai' / 'ngaoundaye')."""
    s = folded.replace(" ", "")
    for a, b in (("qu", "k"), ("ph", "f"), ("ou", "u"), ("c", "k"), ("y", "i"), ("w", "u"), ("z", "s"),
                 ("ai", "e"), ("ei", "e"), ("ie", "i")):
        s = s.replace(a, b)
    s = re.sub(r"(.)\1+", r"\1", s)
    return s[:-1] if len(s) > 4 and s.endswith("e") else s


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float
    admin1: str = ""
    admin2: str = ""
    pcode: str = ""
    feature_type: str = ""
    alternate_names: tuple[str, ...] = ()
    weight: float = 0.0

    @property
    def type_precision(self) -> str | None:
        return _TYPE_PRECISION.get(self.feature_type.strip().lower())


@dataclass(frozen=True)
class Toponym:
    """A place name found in a text and the gazetteer entry it was resolved to."""

    start: int
    end: int
    surface: str
    place: Place
    method: str  # exact | skeleton | fuzzy
    score: float  # 100 for exact
    precision: str
    candidates: int  # gazetteer entries sharing the name (homonyms)


@dataclass
class Gazetteer:
    places: list[Place] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_key: dict[str, list[Place]] = {}
        self._by_skeleton: dict[str, list[str]] = {}
        self._keys_by_len: dict[int, list[str]] = {}
        self._admin_keys: set[str] = set()
        for place in self.places:
            self._add(place)

    def _add(self, place: Place) -> None:
        self._admin_keys.update(k for k in (key(place.admin1), key(place.admin2)) if k)
        for name in (place.name, *place.alternate_names):
            k = key(name)
            if not k or k in _STOP:
                continue
            bucket = self._by_key.setdefault(k, [])
            if place not in bucket:
                bucket.append(place)
                if len(bucket) == 1:
                    self._keys_by_len.setdefault(len(k.split()), []).append(k)
                    self._by_skeleton.setdefault(skeleton(k), []).append(k)

    def add(self, place: Place) -> None:
        self.places.append(place)
        self._add(place)

    def __len__(self) -> int:
        return len(self.places)

    @property
    def names(self) -> set[str]:
        """Every folded word of every name: what the name finder of `redact` must not take for a person."""
        return {w for k in self._by_key for w in k.split() if len(w) > 2}

    # ------------------------------------------------------------ loading

    @classmethod
    def from_csv(cls, source: str | Path | io.TextIOBase) -> Gazetteer:
        handle = open(source, encoding="utf-8-sig", newline="") if isinstance(source, str | Path) else source
        try:
            reader = csv.DictReader(handle)
            places = []
            for number, row in enumerate(reader, start=2):
                row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                try:
                    lat = float(row.get("lat") or row.get("latitude") or "")
                    lon = float(row.get("lon") or row.get("longitude") or row.get("lng") or "")
                except ValueError:
                    raise ValueError(f"gazetteer line {number}: lat/lon missing or not a number") from None
                if not row.get("name"):
                    raise ValueError(f"gazetteer line {number}: name is empty")
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError(f"gazetteer line {number}: coordinates out of range")
                alternates = tuple(a.strip() for a in re.split(r"[;|]", row.get("alternate_names", "")) if a.strip())
                places.append(Place(
                    name=row["name"], lat=lat, lon=lon, admin1=row.get("admin1", ""), admin2=row.get("admin2", ""),
                    pcode=row.get("pcode", ""), feature_type=row.get("feature_type", ""),
                    alternate_names=alternates, weight=float(row.get("weight") or 0),
                ))
            return cls(places)
        finally:
            if isinstance(source, str | Path):
                handle.close()

    # ------------------------------------------------------------ matching

    def _fuzzy(self, candidate: str, n: int) -> tuple[str, str, float] | None:
        sk = skeleton(candidate)
        if len(sk) >= 4 and sk in self._by_skeleton:
            return self._by_skeleton[sk][0], "skeleton", 95.0
        if len(candidate.replace(" ", "")) < 5:
            return None
        pool = self._keys_by_len.get(n)
        if not pool:
            return None
        cutoff = 88.0 if len(candidate) < 8 else 85.0
        best = process.extractOne(candidate, pool, scorer=fuzz.ratio, score_cutoff=cutoff)
        if best is None:
            return None
        return best[0], "fuzzy", float(best[1])

    def find(self, text: str, *, fuzzy: bool = True) -> list[Toponym]:
        """Every place name in the text, longest first, without overlaps, in text order."""
        text = text or ""
        folded = fold(text)
        tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(folded)]
        any_capital = any(c.isupper() for c in text)
        found: list[Toponym] = []
        i = 0
        while i < len(tokens):
            match = None
            if not any_capital or text[tokens[i][0]].isupper() or text[tokens[i][0]].isdigit():
                for n in range(min(MAX_TOKENS, len(tokens) - i), 0, -1):
                    cand = " ".join(t[2] for t in tokens[i:i + n])
                    if n == 1 and (cand in _STOP or len(cand) < _SHORTEST_SINGLE):
                        break
                    if cand in self._by_key:
                        match = (n, cand, "exact", 100.0)
                        break
                if match is None and fuzzy and tokens[i][2] not in _STOP and not tokens[i][2].isdigit():
                    for n in range(min(3, len(tokens) - i), 0, -1):
                        words = tokens[i:i + n]
                        # Multi-word candidates only across capitalised words ("Kaga Bandoro").
                        if any_capital and not all(text[w[0]].isupper() for w in words):
                            continue
                        hit = self._fuzzy(" ".join(w[2] for w in words), n)
                        if hit:
                            match = (n, hit[0], hit[1], hit[2])
                            break
            if match is None:
                i += 1
                continue
            n, k, method, score = match
            start, end = tokens[i][0], tokens[i + n - 1][1]
            places = self._by_key[k]
            found.append(Toponym(start, end, text[start:end], places[0], method, score, "", len(places)))
            i += n
        return self._resolve(text, found)

    def _resolve(self, text: str, found: list[Toponym]) -> list[Toponym]:
        """Choose among homonyms with the other places named in the same text, then set precisions."""
        # Admin areas named anywhere in the text (whether or not the gazetteer lists them as places).
        words = f" {' '.join(_TOKEN.findall(fold(text)))} "
        mentioned = {k for k in self._admin_keys if f" {k} " in words}
        out = []
        for t in found:
            k = key(t.surface) if t.method == "exact" else None
            options = self._by_key.get(k, [t.place]) if k else [t.place]
            if t.method != "exact":
                options = self._by_key.get(key(t.place.name), [t.place])

            # "Bria region" means the area; a bare "Bria" means the town, not the area's centre.
            wants_area = bool(_AREA_AFTER.match(text, t.end))

            own = key(t.surface)

            def rank(p: Place, wants_area: bool = wants_area, own: str = own) -> tuple[int, int, int, float]:
                is_area = p.type_precision is not None
                named = sum(1 for a in (key(p.admin1), key(p.admin2)) if a and a != own and a in mentioned)
                # A place's own name beats an alternate name it shares ("Mexico" the country, not the city).
                return (named, int(key(p.name) == own), int(is_area == wants_area), p.weight)

            place = max(options, key=rank)
            out.append(Toponym(t.start, t.end, t.surface, place, t.method, t.score,
                               _precision(text, t.start, t.end, place), len(options)))
        return out

    def locate(self, text: str, *, fuzzy: bool = True) -> Toponym | None:
        """The one place the text is most likely about: the most specific one, the first named among equals.

        A place given as a reference ("30 km from Bouar") is kept, with precision `near`, since the unnamed
        village is not in the gazetteer.
        """
        found = self.find(text, fuzzy=fuzzy)
        if not found:
            return None
        order = {p: i for i, p in enumerate(PRECISIONS)}
        return min(found, key=lambda t: (order.get(t.precision, 9), -t.score, t.start))


def _precision(text: str, start: int, end: int, place: Place) -> str:
    by_type = place.type_precision
    if by_type:
        return by_type
    # A distance or direction in the few words before the name makes it a reference point, not the place.
    before = text[max(0, start - 40):start]
    return "near" if _NEAR_CUE.search(before) else "exact"


def build(places: Iterable[Place]) -> Gazetteer:
    return Gazetteer(list(places))
