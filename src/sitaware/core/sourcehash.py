"""The SHA-256 of the source files that decide what an AI component says (its artefact hash, R-AI-03).

Pure: no Django, so pure analytics packages can use it. Files are read in the order given, each prefixed by its
label, so a renamed, added or edited module changes the hash and nothing else does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def source_hash(groups: Iterable[tuple[Path, Iterable[str]]], *, label_with_folder: bool = True) -> str:
    """Hash of the named files in each folder; a missing file is skipped. Labels are "folder/name" (or "name")."""
    digest = hashlib.sha256()
    for folder, names in groups:
        for name in names:
            path = folder / name
            if path.exists():
                label = f"{folder.name}/{name}" if label_with_folder else name
                digest.update(label.encode() + b"\n" + path.read_bytes() + b"\n")
    return digest.hexdigest()
