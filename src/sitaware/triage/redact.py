"""Personal data in free text: find phone numbers, e-mail addresses and personal names, and redact them.

Pure: no Django. Used on intake items before any copy marked for sharing leaves the organisation.

Why these methods:
- Phones: `phonenumbers` (Google's libphonenumber metadata, shipped in the wheel) validates numbers in the
  local formats of the mission countries (CF, CD, SS, ML) and in international form. A number that no
  metadata accepts but sits right after a cue word ("tél.", "phone", "joignable au") is still taken: a
  typo in a number does not make it less personal.
- E-mails: a plain pattern; addresses are regular enough.
- Names: no name model ships offline for Sango, Lingala or Bambara names, so names are found by context
  (titles, ranks, "named"/"dénommé"), by a list of common given names of the four countries, and by the
  French habit of writing surnames in capitals ("Jean-Pierre NDOUBA"). An optional `ner` callable (for
  instance spaCy's small pipelines, when installed) can add spans; it is never required.
Redaction favours recall: a false alarm costs a word in a shared copy; a miss exposes a person.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

# The mission countries: Central African Republic, DR Congo, South Sudan, Mali.
MISSION_REGIONS: tuple[str, ...] = ("CF", "CD", "SS", "ML")
PLACEHOLDERS = {"phone": "[PHONE]", "email": "[EMAIL]", "name": "[NAME]"}

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
# Digits with the separators people type in phone numbers, 8 to 15 digits in all.
_DIGITS = re.compile(r"(?<![\w+])\+?\d[\d\s().\-/]{6,20}\d(?!\w)")
_PHONE_CUE = re.compile(
    r"(t[ée]l[ée]?(?:phone)?\.?|phone|mobile|portable|cell|num[ée]ro|n°|whatsapp|joignable\s+au|"
    r"appel(?:er|ez)?(?:\s+le)?|call|contact(?:er)?)\W{0,4}$",
    re.IGNORECASE,
)

# Words that introduce a person's name in English and French police reporting.
_TITLES = (
    "m", "mr", "mrs", "ms", "mme", "mlle", "dr", "me", "monsieur", "madame", "mademoiselle", "sieur", "dame",
    "général", "general", "gen", "colonel", "col", "commandant", "cdt", "capitaine", "captain", "capt", "cpt",
    "lieutenant", "lt", "sergent", "sergeant", "sgt", "adjudant", "caporal", "corporal", "major", "chef",
    "chief", "maire", "mayor", "pasteur", "pastor", "abbé", "father", "imam", "sultan", "préfet", "prefect",
    "sous-préfet", "commissaire", "inspecteur", "inspector", "officer", "agent", "juge", "judge", "député",
    "chef coutumier", "chef de village", "chef de quartier", "chef de groupement", "docteur", "doctor",
    "professeur", "professor", "président", "president", "ministre", "minister",
)
_INTRODUCERS = (
    "named", "called", "nommé", "nommée", "dénommé", "dénommée", "prénommé", "prénommée", "alias", "dit",
    "identified as", "identifié comme", "identifiée comme", "surnommé", "selon", "according to", "d'après",
)
# Common given names in CAR, DRC, South Sudan and Mali, and in UN staff reporting; lower case, unaccented.
GIVEN_NAMES = frozenset("""
abakar abdel abdoulaye abdou abdul achol adama adam ahmat ahmed aicha akol alain ali alice alphonse amadou
amina aminata andre angelo anne antoine ariane arsene awa ayen baba bakary beatrice benjamin bernard
blaise boubacar bakari bintou celestin chantal charles christian christine claude clementine daniel david
deng diane didier dieudonne djibril elisabeth emmanuel eric esther fatouma fatoumata fidele florence
francois francoise garang gaston georges germain gisele grace guy hamadou hassan helene henri ibrahim
idriss isaac issa jacques james jean jeanne jerome john joseph josephine jules justin kadidia kalifa
karim koffi lam lazare leon louis lucie madeleine mahamat majok makuei mamadou mariam marie martin mary
mathieu michael michel modibo mohamed moussa nadege nelly nicolas nyandeng nyakim odette omar oumar
ousmane pascal patrice patrick paul peter philippe pierre rachel rebecca richard robert salif samuel
sarah seydou simon souleymane sylvain thomas yaya yves zenab
""".split())
# Capitalised words that start sentences or name places and roles, never people on their own.
_NOT_NAMES = frozenset("""
le la les un une des de du au aux et ou il elle ils elles on nous vous ce cette ces son sa ses leur
the a an and or he she they we it this that these those his her their in on at to of for from by with
police gendarmerie minusca monusco unmiss minusma onu un fdlr fardc sspdf faca famas upc cpc fprc mpc
rj 3r anti-balaka seleka ex-seleka m23 adf codeco republic république province préfecture prefecture
nord sud est ouest north south east west centre center haut bas lundi mardi mercredi jeudi vendredi samedi
dimanche monday tuesday wednesday thursday friday saturday sunday village ville town city quartier pk
""".split())

_TITLE_PATTERN = "|".join(sorted((re.escape(t) for t in _TITLES), key=len, reverse=True))
_INTRO_PATTERN = "|".join(sorted((re.escape(t) for t in _INTRODUCERS), key=len, reverse=True))
# A name token: capitalised (Jean, N'Diaye, Ngaïkoïsset, Jean-Pierre) or all capitals (NDOUBA).
_APOSTROPHES = "'\u2019"  # typed and typographic apostrophes, both common in names (N'Diaye)
_NAME_TOKEN = rf"(?:[A-ZÀ-ÖØ-Þ][\w{_APOSTROPHES}\-]*[\w]|[A-ZÀ-ÖØ-Þ])"
# Titles match in any case; the name after them must be capitalised ("le maire de Paoua" names no one).
_CUED_NAME = re.compile(
    rf"(?<![\w])(?i:{_TITLE_PATTERN}|{_INTRO_PATTERN})\.?\s+"
    rf"(?P<name>{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,3}})",
)
# Two or three capitalised words followed by an apposition or a reporting verb: "Kambale Muhindo, enseignant",
# "Gatluak Ruach and two others", "Aminata Sangaré reported".
_PAIR_FOLLOWERS = re.compile(
    r"\s*(?:,|\(|and\b|et\b|said\b|says\b|reported\b|told\b|was\b|has\b|a\s+(?:dit|déclaré|été)\b|"
    r"affirme\b|déclare\b|dit\b|aurait\b|est\b)"
)
_CAP_WORD = re.compile(rf"[A-ZÀ-ÖØ-Þ][\w{_APOSTROPHES}\-]*\w|[A-ZÀ-ÖØ-Þ]")


@dataclass(frozen=True)
class Span:
    """One piece of personal data: where it is, what kind, and how it was found."""

    start: int
    end: int
    kind: str  # phone | email | name
    text: str
    method: str


@lru_cache(maxsize=65536)  # the same words (and the gazetteer's names) come back in every text
def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


# ---------------------------------------------------------------- phones and e-mails


def find_phones(text: str, regions: Sequence[str] = MISSION_REGIONS) -> list[Span]:
    spans: list[Span] = []
    for region in regions:
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
            start, end = match.start, match.end
            # The matcher keeps an opening bracket that belongs to the sentence: "(+243 ...)".
            while start < end and text[start] in "([" and ")" not in text[start:end]:
                start += 1
            spans.append(Span(start, end, "phone", text[start:end],
                              f"phonenumbers:{phonenumbers.region_code_for_number(match.number) or region}"))
    # Digit runs after a cue word that no country's metadata accepted (typos, old or foreign formats).
    for match in _DIGITS.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group())
        if 8 <= digits <= 15 and _PHONE_CUE.search(text[max(0, match.start() - 30):match.start()]):
            spans.append(Span(match.start(), match.end(), "phone", match.group(), "cue"))
    return spans


def find_emails(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), "email", m.group(), "pattern") for m in EMAIL.finditer(text)]


# ---------------------------------------------------------------- names


_CUE_WORDS = frozenset(_fold(w) for phrase in (*_TITLES, *_INTRODUCERS) for w in phrase.split())


def _is_name_token(token: str, not_names: frozenset[str]) -> bool:
    folded = _fold(token)
    return folded not in _NOT_NAMES and folded not in _CUE_WORDS and folded not in not_names


def _trim_name(text: str, start: int, end: int, not_names: frozenset[str]) -> tuple[int, int] | None:
    """Keep the leading run of tokens that may be a name part; None when nothing is left."""
    tokens = list(_CAP_WORD.finditer(text, start, end))
    kept_end = None
    for token in tokens:
        if not _is_name_token(token.group(), not_names):
            break
        kept_end = token.end()
    return (start, kept_end) if kept_end else None


def find_names(text: str, *, not_names: Iterable[str] = (), given_names: frozenset[str] = GIVEN_NAMES) -> list[Span]:
    """Personal names by context; `not_names` (folded words, e.g. the gazetteer's places) are never names."""
    blocked = frozenset(_fold(w) for w in not_names)
    spans: list[Span] = []
    for match in _CUED_NAME.finditer(text):
        trimmed = _trim_name(text, match.start("name"), match.end("name"), blocked)
        if trimmed:
            spans.append(Span(trimmed[0], trimmed[1], "name", text[trimmed[0]:trimmed[1]], "title"))
    # A known given name followed by capitalised words, or alone when followed by a surname in capitals.
    tokens = list(_CAP_WORD.finditer(text))
    i = 0
    while i < len(tokens):
        token = tokens[i]
        parts = re.split(rf"[-{_APOSTROPHES}]", _fold(token.group()))
        if any(p in given_names for p in parts) and _is_name_token(token.group(), blocked):
            j = i
            while (j + 1 < len(tokens) and j - i < 3 and text[tokens[j].end():tokens[j + 1].start()].strip() == ""
                   and _is_name_token(tokens[j + 1].group(), blocked)):
                j += 1
            spans.append(Span(token.start(), tokens[j].end(), "name", text[token.start():tokens[j].end()],
                              "given-name"))
            i = j + 1
            continue
        # Two or more words in capitals after a capitalised word: "Jean-Pierre NDOUBA", "Awa TRAORE".
        word = token.group()
        if (len(word) >= 3 and word.isupper() and i > 0 and _is_name_token(word, blocked)
                and text[tokens[i - 1].end():token.start()].strip() == ""
                and not tokens[i - 1].group().isupper() and _is_name_token(tokens[i - 1].group(), blocked)):
            spans.append(Span(tokens[i - 1].start(), token.end(), "name",
                              text[tokens[i - 1].start():token.end()], "capitals"))
        i += 1
    # Capitalised pairs (mixed case, not a known place or organisation) followed by an apposition or verb.
    for i in range(len(tokens) - 1):
        run = [tokens[i]]
        while (len(run) < 3 and i + len(run) < len(tokens)
               and text[run[-1].end():tokens[i + len(run)].start()] == " "):
            run.append(tokens[i + len(run)])
        for size in range(len(run), 1, -1):
            words = run[:size]
            if all(len(w.group()) >= 3 and not w.group().isupper() and _is_name_token(w.group(), blocked)
                   for w in words) and _PAIR_FOLLOWERS.match(text, words[-1].end()):
                spans.append(Span(words[0].start(), words[-1].end(), "name",
                                  text[words[0].start():words[-1].end()], "apposition"))
                break
    return spans


# ---------------------------------------------------------------- together


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans become one (the earliest kind wins: phone and e-mail before name)."""
    order = {"email": 0, "phone": 1, "name": 2}
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, order.get(s.kind, 9), -s.end)):
        if out and span.start < out[-1].end:
            last = out[-1]
            if span.end > last.end:
                out[-1] = Span(last.start, span.end, last.kind, last.text + span.text[last.end - span.start:],
                               last.method)
            continue
        out.append(span)
    return out


def find_personal_data(text: str, *, regions: Sequence[str] = MISSION_REGIONS, not_names: Iterable[str] = (),
                       ner: Callable[[str], Iterable[tuple[int, int]]] | None = None) -> list[Span]:
    """Every piece of personal data found, in text order, without overlaps."""
    text = text or ""
    spans = find_emails(text) + find_phones(text, regions) + find_names(text, not_names=not_names)
    if ner is not None:
        spans += [Span(s, e, "name", text[s:e], "ner") for s, e in ner(text)]
    return _merge(spans)


def redact(text: str, spans: Sequence[Span] | None = None, **kwargs) -> str:
    """The text with each piece of personal data replaced by its placeholder ([PHONE], [EMAIL], [NAME])."""
    text = text or ""
    if spans is None:
        spans = find_personal_data(text, **kwargs)
    out, last = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < last:
            continue
        out.append(text[last:span.start])
        out.append(PLACEHOLDERS.get(span.kind, "[REDACTED]"))
        last = span.end
    out.append(text[last:])
    return "".join(out)


def summary(spans: Sequence[Span]) -> dict[str, int]:
    """Counts by kind: what may be stored and logged about personal data (never the data itself)."""
    counts: dict[str, int] = {}
    for span in spans:
        counts[span.kind] = counts.get(span.kind, 0) + 1
    return counts
