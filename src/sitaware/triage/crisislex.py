"""Reading CrisisLexT26 (Olteanu, Vieweg & Castillo 2015) and training the shipped relevance and information-type
models from it. Pure: no Django.

The tweets are for research and benchmarking only: they are read from ../shared/data at training time and
never copied; the shipped models hold hashed feature weights, from which no tweet can be read back.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from sitaware.triage import textclass

EXCLUDED_INFORMATIVENESS = "Not applicable"
EXCLUDED_INFO_TYPE = "Not labeled"


def rows(folder: Path) -> list[dict[str, str]]:
    out = []
    for path in sorted(Path(folder).glob("*-tweets_labeled.csv")):
        event = path.name.split("-tweets")[0]
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                out.append({"event": event, "text": row["Tweet Text"], "informativeness": row["Informativeness"],
                            "info_type": row["Information Type"]})
    return out


def tasks(data: list[dict[str, str]]) -> dict[str, list[tuple[dict[str, str], str]]]:
    """relevance: relevant (related and informative) or not_relevant (related but not informative, not
    related); info_type: the six information types plus not_applicable (tweets not labelled left out)."""
    relevance = [(r, "relevant" if r["informativeness"] == "Related and informative" else "not_relevant")
                 for r in data if r["informativeness"] != EXCLUDED_INFORMATIVENESS]
    info = [(r, r["info_type"].lower().replace(" ", "_")) for r in data if r["info_type"] != EXCLUDED_INFO_TYPE]
    return {"relevance": relevance, "info_type": info}


def train_shipped(folder: Path, out_dir: Path) -> dict[str, str]:
    """Train both models on every event and write them; returns {task: sha256}."""
    data = rows(folder)
    hashes = {}
    for task, examples in tasks(data).items():
        model = textclass.train([r["text"] for r, _ in examples], [y for _, y in examples], header={
            "task": task, "trained_on": "CrisisLexT26 (all 19 labelled events in shared/data)",
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
        hashes[task] = model.save(Path(out_dir) / f"{task}.npz")
    return hashes
