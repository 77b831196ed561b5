"""Near-duplicate detection. Pure: no Django; numpy only.

Two signals, because one message often reaches us several times — forwarded, retyped, or reported once in
French and once in English:
- Same language: MinHash over character 5-grams of the folded text estimates the Jaccard similarity of the
  two texts' shingle sets; robust to small edits, forwarding headers and re-punctuation.
- Across languages: a fingerprint of what translation keeps — numbers (casualties, times, dates), place names
  found by the gazetteer, phone numbers and e-mails — compared by Jaccard. Two reports that share a place
  and two numbers are worth showing side by side even when they share no word.
Both produce candidates with a score; an analyst decides whether an item is a duplicate.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

SHINGLE = 5
PERMUTATIONS = 64
_PRIME = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20261129)  # fixed: signatures must be comparable across runs and machines
_A = _rng.integers(1, (1 << 61) - 1, size=PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, size=PERMUTATIONS, dtype=np.uint64)
_NUMBER = re.compile(r"\d+(?:[.,:h]\d+)?")
_FORWARD = re.compile(r"^(?:fwd?|tr|rt|re)\s*:\s*", re.IGNORECASE)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"\w+", _FORWARD.sub("", plain)))


def signature(text: str) -> np.ndarray:
    """MinHash signature (PERMUTATIONS unsigned 32-bit values) of the text's character 5-grams."""
    folded = _fold(text)
    if len(folded) < SHINGLE:
        folded = folded.ljust(SHINGLE)
    hashes = np.fromiter({zlib.crc32(folded[i:i + SHINGLE].encode()) for i in range(len(folded) - SHINGLE + 1)},
                         dtype=np.uint64)
    # (a*x + b) mod p, for every permutation and shingle; keep the minimum per permutation.
    mixed = (hashes[None, :] * _A[:, None] + _B[:, None]) % _PRIME
    return (mixed.min(axis=1) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float((a == b).mean())


def fingerprint(text: str, places: Iterable[str] = (), extra: Iterable[str] = ()) -> frozenset[str]:
    """What survives translation: numbers, place keys, and any extra tokens (phones, e-mails)."""
    numbers = {f"n:{m.group().replace(',', '.')}" for m in _NUMBER.finditer(text or "")}
    return frozenset(numbers | {f"p:{p}" for p in places} | {f"x:{e}" for e in extra})


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class Candidate:
    key: str
    score: float
    method: str  # text (MinHash) | facts (cross-language fingerprint)
    shared: tuple[str, ...] = ()


def find(sig: np.ndarray, facts: frozenset[str], others: Sequence[tuple[str, np.ndarray, frozenset[str]]], *,
         text_threshold: float = 0.5, facts_threshold: float = 0.5, min_shared: int = 2,
         limit: int = 5) -> list[Candidate]:
    """Earlier items or records resembling this one, best first. `others` = (key, signature, fingerprint)."""
    if not others:
        return []
    matrix = np.stack([o[1] for o in others])
    text_scores = (matrix == sig[None, :]).mean(axis=1)
    out: list[Candidate] = []
    for (key, _, other_facts), score in zip(others, text_scores, strict=True):
        if score >= text_threshold:
            out.append(Candidate(key, round(float(score), 3), "text"))
            continue
        shared = facts & other_facts
        # Places are what make shared numbers meaningful: "3 killed" alone matches half the reports.
        if (len(shared) >= min_shared and any(s.startswith("p:") for s in shared)
                and jaccard(facts, other_facts) >= facts_threshold):
            out.append(Candidate(key, round(jaccard(facts, other_facts), 3), "facts", tuple(sorted(shared))))
    # Text matches first: shared facts alone are weaker evidence of the same report.
    out.sort(key=lambda c: (c.method != "text", -c.score))
    return out[:limit]
