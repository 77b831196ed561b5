"""Category suggester: scores a taxonomy's categories by the EN/FR keywords it ships. Pure: no Django.

It reads a record's title and narrative, finds the taxonomy's keywords in them (accents and case folded,
multi-word phrases matched as phrases, plural and feminine endings tolerated) and proposes up to three
categories with the share of the evidence each received. When no keyword matches it proposes nothing: it
never guesses. It only proposes; a person decides.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from sitaware.records.taxonomy import Taxonomy

ALGORITHM_VERSION = "kw-1"
MODEL_ID = "sitaware.category-suggester"
DEFAULT_FIELD_WEIGHTS: Mapping[str, float] = {"title": 2.0, "narrative": 1.0}
# Plural and feminine endings that may differ between a keyword and the text ("tué" / "tuées", "mine" / "mines").
_ENDINGS = ("es", "s", "e", "x")
_PLURAL = ("s", "x")
_SHORTEST_INFLECTED = 3
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_WORD = re.compile(r"\w+")
_MONTHS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout",
    "septembre", "octobre", "novembre", "decembre",
})

LIMITATIONS = (
    "Keyword evidence, not understanding: negation ('no one was killed'), reported speech, homographs "
    "('vol' as theft or flight, 'mine' as explosive or gold mine), text typed without accents where accents "
    "tell words apart ('marche'/'marché'), dates and report titles, and words outside the taxonomy's lists "
    "are not recognised. Only English and French keywords are shipped. The share of evidence is not a "
    "probability measured against verified labels. A person must check the proposal against the record."
)


def fold(word: str) -> str:
    """Lower case without accents or ligatures, so 'Tuées' and 'tuees' are the same word."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_LIGATURES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@dataclass(frozen=True)
class Word:
    folded: str
    lower: str  # accents kept: when a writer typed them they tell 'marché' (market) from 'marche' (march)
    accented: bool
    written: str


def words(text: str) -> list[Word]:
    """The words of a text; composed first so that combining accents stay inside their word."""
    out = []
    for written in _WORD.findall(unicodedata.normalize("NFC", text or "")):
        lower = written.translate(_LIGATURES).lower()
        folded = fold(written)
        out.append(Word(folded, lower, folded != lower, written))
    return out


def _stem(word: str) -> str:
    """Drop one plural or feminine ending, keeping at least three letters: 'tuées', 'tués' → 'tué'."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _SHORTEST_INFLECTED:
            return word[: -len(ending)]
    return word


def _word_matches(text: Word, keyword: Word, *, last: bool) -> bool:
    """Equal after folding; an accented text word must also agree with the keyword's accents. Endings may
    differ ('villageois tués' / 'villageois tuées'), except on short words inside a phrase ('site in' is not
    'sit-in') and from plural to singular."""
    mine, theirs = (text.lower, keyword.lower) if text.accented else (text.folded, keyword.folded)
    if mine == theirs:
        return True
    if len(theirs) < (_SHORTEST_INFLECTED if last else _SHORTEST_INFLECTED + 1):
        return False
    # A plural keyword wants a plural word: 'humanitaires' (aid workers) is not 'aperçu humanitaire'.
    if theirs.endswith(_PLURAL) and not mine.endswith(_PLURAL):
        return False
    return _stem(mine) == _stem(theirs)


def _is_date(tokens: list[Word], start: int, end: int) -> bool:
    """'20 March', 'MARCH 2017': a month name beside a number is a date, not a demonstration."""
    if end - start != 1 or tokens[start].folded not in _MONTHS:
        return False
    neighbours = tokens[max(0, start - 1):start] + tokens[end:end + 1]
    return any(w.folded.isdigit() for w in neighbours)


@dataclass(frozen=True)
class Evidence:
    keyword: str
    language: str
    field: str
    text: str
    weight: float


@dataclass(frozen=True)
class Suggestion:
    code: str
    kind: str
    score: float
    share: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Result:
    suggestions: tuple[Suggestion, ...]
    total_evidence: float
    confidence: float
    margin: float
    explanation: str

    @property
    def top(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None


@dataclass(frozen=True)
class _Phrase:
    words: tuple[Word, ...]
    keyword: str
    language: str
    codes: tuple[str, ...]


def _index(taxonomy: Taxonomy) -> dict[str, list[_Phrase]]:
    """Phrases by the start of their first word; one phrase may belong to several categories ('incendié')."""
    owners: dict[tuple[str, ...], list[str]] = {}
    spelled: dict[tuple[str, ...], tuple[tuple[Word, ...], str, str]] = {}
    for category in taxonomy.categories.values():
        for language, keywords in sorted(category.keywords.items()):
            for keyword in keywords:
                phrase = tuple(words(keyword))
                if not phrase:
                    continue
                key = tuple(w.lower for w in phrase)
                codes = owners.setdefault(key, [])
                if category.code not in codes:
                    codes.append(category.code)
                spelled.setdefault(key, (phrase, keyword, language))
    index: dict[str, list[_Phrase]] = {}
    for key, codes in owners.items():
        phrase, keyword, language = spelled[key]
        index.setdefault(phrase[0].folded[:_SHORTEST_INFLECTED], []).append(
            _Phrase(phrase, keyword, language, tuple(codes))
        )
    return index


class CategorySuggester:
    """One taxonomy's suggester. `model_version` and `artefact_hash` identify exactly what ran."""

    def __init__(self, taxonomy: Taxonomy, taxonomy_file: bytes, *, top_k: int = 3,
                 field_weights: Mapping[str, float] = DEFAULT_FIELD_WEIGHTS) -> None:
        self.taxonomy = taxonomy
        self.top_k = top_k
        self.field_weights = dict(field_weights)
        self.model_id = MODEL_ID
        self.model_version = f"{taxonomy.key}+{ALGORITHM_VERSION}"
        self.artefact_hash = artefact_hash(taxonomy_file)
        self._index = _index(taxonomy)

    @property
    def parameters(self) -> dict:
        return {"top_k": self.top_k, "field_weights": self.field_weights, "taxonomy": self.taxonomy.key,
                "algorithm": ALGORITHM_VERSION}

    def _matches(self, text: str) -> list[tuple[int, int, _Phrase, str]]:
        found: list[tuple[int, int, _Phrase, str]] = []
        tokens = words(text)
        for start, token in enumerate(tokens):
            for phrase in self._index.get(token.folded[:_SHORTEST_INFLECTED], ()):
                end = start + len(phrase.words)
                if end > len(tokens) or _is_date(tokens, start, end):
                    continue
                last = len(phrase.words) - 1
                if all(_word_matches(tokens[start + i], w, last=i == last) for i, w in enumerate(phrase.words)):
                    found.append((start, end, phrase, " ".join(t.written for t in tokens[start:end])))
        # The longest phrase wins its words: "vol à main armée" is armed robbery, not also theft.
        found.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
        kept: list[tuple[int, int, _Phrase, str]] = []
        for match in found:
            start, end = match[0], match[1]
            if all((start, end) == (k[0], k[1]) or end <= k[0] or start >= k[1] for k in kept):
                kept.append(match)
        return kept

    def suggest(self, texts: Mapping[str, str]) -> Result:
        """Score every category against `texts` (field name → text); fields not weighted count once."""
        scores: dict[str, float] = {}
        evidence: dict[str, list[Evidence]] = {}
        for field_name, text in texts.items():
            weight_of_field = self.field_weights.get(field_name, 1.0)
            seen: set[tuple] = set()
            for start, end, phrase, surface in self._matches(text):
                # A keyword, a word form and a stretch of text count once per field: repeating a word is not more
                # evidence, and 'clashes' is both 'clash' + ending and the keyword 'clashes'.
                weight = weight_of_field * (1.0 + 0.5 * (len(phrase.words) - 1))
                for code in phrase.codes:
                    keys = ((code, "keyword", phrase.keyword), (code, "text", fold(surface)), (code, start, end))
                    if any(k in seen for k in keys):
                        continue
                    seen.update(keys)
                    scores[code] = scores.get(code, 0.0) + weight
                    evidence.setdefault(code, []).append(
                        Evidence(phrase.keyword, phrase.language, field_name, surface, weight)
                    )
        total = sum(scores.values())
        if total <= 0:
            return Result((), 0.0, 0.0, 0.0, "No keyword of the taxonomy appears in the text: no suggestion.")
        ranked = sorted(scores, key=lambda c: (-scores[c], c))
        suggestions = tuple(
            Suggestion(code, self.taxonomy.categories[code].kind, round(scores[code], 3),
                       round(scores[code] / total, 3), tuple(evidence[code]))
            for code in ranked[: self.top_k]
        )
        top_share = scores[ranked[0]] / total
        second_share = scores[ranked[1]] / total if len(ranked) > 1 else 0.0
        # Share of the evidence, discounted when there is little of it: one weak word is not much to go on.
        confidence = top_share * (1.0 - math.exp(-total / 2.0))
        return Result(
            suggestions,
            round(total, 3),
            round(confidence, 3),
            round(top_share - second_share, 3),
            _explain(suggestions, total),
        )


def _explain(suggestions: tuple[Suggestion, ...], total: float) -> str:
    lines = []
    for rank, s in enumerate(suggestions, start=1):
        found = ", ".join(f"'{e.text}' ({e.field}, keyword '{e.keyword}' {e.language})" for e in s.evidence)
        lines.append(f"{rank}. {s.code}: score {s.score:g} of {total:g} ({s.share:.0%} of the evidence) from {found}")
    return "Matched words:\n" + "\n".join(lines)


def artefact_hash(taxonomy_file: bytes) -> str:
    """SHA-256 of the taxonomy file and the algorithm version: changes if either does."""
    return hashlib.sha256(taxonomy_file + b"\n" + ALGORITHM_VERSION.encode()).hexdigest()
