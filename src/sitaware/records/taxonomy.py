"""Versioned category taxonomies, loaded from JSON files. Pure: no Django.

A taxonomy is named ``name@version``. Records store the version they were coded with, so a new
version never rewrites old records; both stay readable side by side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parent / "taxonomies"
KINDS = ("incident", "event", "activity")


@dataclass(frozen=True)
class Category:
    code: str
    kind: str
    parent: str | None
    label: dict[str, str]
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    acled: str | None = None

    def label_for(self, language: str) -> str:
        return self.label.get(language) or self.label.get("en") or self.code


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    description: str
    categories: dict[str, Category]

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def get(self, code: str) -> Category | None:
        return self.categories.get(code)

    def leaves(self) -> list[Category]:
        parents = {c.parent for c in self.categories.values() if c.parent}
        return [c for c in self.categories.values() if c.code not in parents]

    def by_acled_label(self, label: str) -> Category | None:
        wanted = label.strip().lower()
        for category in self.categories.values():
            if category.acled and category.acled.lower() == wanted:
                return category
        return None


class TaxonomyError(ValueError):
    pass


def _load_file(path: Path) -> Taxonomy:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TaxonomyError(f"cannot read taxonomy file {path}: {exc}") from exc
    categories: dict[str, Category] = {}
    for raw in doc.get("categories", []):
        kind = raw.get("kind")
        if kind not in KINDS:
            raise TaxonomyError(f"{path.name}: category {raw.get('code')!r} has unknown kind {kind!r}")
        keywords = {lang: tuple(words) for lang, words in (raw.get("keywords") or {}).items()}
        category = Category(raw["code"], kind, raw.get("parent"), dict(raw["label"]), keywords, raw.get("acled"))
        if category.code in categories:
            raise TaxonomyError(f"{path.name}: category {category.code!r} appears twice")
        categories[category.code] = category
    for category in categories.values():
        if category.parent and category.parent not in categories:
            raise TaxonomyError(f"{path.name}: {category.code!r} names unknown parent {category.parent!r}")
    return Taxonomy(doc["name"], str(doc["version"]), doc.get("description", ""), categories)


@lru_cache(maxsize=8)
def _load_all(extra_dirs: tuple[str, ...]) -> dict[str, Taxonomy]:
    found: dict[str, Taxonomy] = {}
    for folder in (SHIPPED_DIR, *map(Path, extra_dirs)):
        for path in sorted(folder.glob("*.json")):
            taxonomy = _load_file(path)
            found[taxonomy.key] = taxonomy
    return found


class TaxonomyRegistry:
    def __init__(self, extra_dirs: Iterable[str] = ()) -> None:
        self._taxonomies = _load_all(tuple(extra_dirs))

    def keys(self) -> list[str]:
        return sorted(self._taxonomies)

    def get(self, key: str) -> Taxonomy:
        try:
            return self._taxonomies[key]
        except KeyError:
            known = ", ".join(self.keys())
            raise TaxonomyError(f"unknown taxonomy version {key!r}; known: {known}") from None
