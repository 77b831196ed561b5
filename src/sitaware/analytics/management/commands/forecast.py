"""`sitaware forecast evaluate | model-card`: evaluate the risk-map models on any event set, and write the
model cards from the latest evaluation run."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitaware.analytics.forecasting import modelcard, runner
from sitaware.analytics.forecasting.riskmap import MODELS

# The repository (bench results, docs) when run from a checkout; the working directory otherwise.
_CHECKOUT = Path(__file__).resolve().parents[5]
REPO = _CHECKOUT if (_CHECKOUT / "bench").is_dir() else Path.cwd()
TIME_COLUMNS = ("occurred_at", "date", "date_start", "time", "datetime")
LAT_COLUMNS = ("latitude", "lat", "y")
LON_COLUMNS = ("longitude", "lon", "lng", "x")


def read_events_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, days) from a CSV with a time column (ISO date or timestamp) and latitude/longitude columns.
    Every other column is ignored: place and time only. Rows without a usable time or place are skipped."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]

        def pick(options: tuple[str, ...]) -> str:
            for name in options:
                if name in header:
                    return (reader.fieldnames or [])[header.index(name)]
            raise CommandError(f"{path}: no column named one of {', '.join(options)}")

        tcol, ycol, xcol = pick(TIME_COLUMNS), pick(LAT_COLUMNS), pick(LON_COLUMNS)
        lon, lat, t = [], [], []
        for row in reader:
            try:
                when = dt.datetime.fromisoformat(row[tcol].strip().replace("Z", "+00:00"))
                y, x = float(row[ycol]), float(row[xcol])
            except (ValueError, AttributeError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)  # a date alone is read as that day in UTC
            if -90 <= y <= 90 and -180 <= x <= 180 and (y, x) != (0.0, 0.0):
                lon.append(x)
                lat.append(y)
                t.append(when.timestamp() / 86400.0)
    return np.array(lon), np.array(lat), np.array(t)


class Command(BaseCommand):
    help = "Evaluate the risk-map models on an event set, or write their model cards (see --help of each)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="evaluate|model-card")
        ev = sub.add_parser("evaluate", help="Rolling-origin evaluation of every model against the baselines, "
                            "on a CSV of events or on records in a user's scope (--query).")
        ev.add_argument("events", nargs="?", help="CSV with occurred_at (or date), latitude, longitude columns.")
        ev.add_argument("--query", action="store_true", help="Use records in the scope of --user instead of a file.")
        ev.add_argument("--user", help="Whose scope --query reads (an analyst, supervisor or commander).")
        ev.add_argument("--categories", default="", help="Comma-separated category codes (--query; default all).")
        ev.add_argument("--bbox", help="min_lon,min_lat,max_lon,max_lat (--query).")
        ev.add_argument("--admin1", help="An admin1 name instead of --bbox (--query).")
        ev.add_argument("--since", help="Only records from this date (YYYY-MM-DD) (--query).")
        ev.add_argument("--resolution", type=int, default=8, help="H3 resolution of the cells (default 8).")
        ev.add_argument("--horizon-days", type=float, default=7.0, help="Forecast period in days (default 7).")
        ev.add_argument("--origins", type=int, default=26, help="How many recent origins to evaluate (default 26).")
        ev.add_argument("--models", default=",".join(MODELS), help=f"Comma-separated; default {','.join(MODELS)}.")
        ev.add_argument("--out", required=True, help="Folder for report.md, report.json and the plots.")
        card = sub.add_parser("model-card", help="Write docs/model-cards/forecast-<model>.md from the latest "
                              "evaluation run (bench/results/forecast.json).")
        card.add_argument("--results", default=str(REPO / "bench" / "results" / "forecast.json"))
        card.add_argument("--out", default=str(REPO / "docs" / "model-cards"))
        card.add_argument("--model", action="append", default=[], help="Only this model; repeat for more.")
        card.add_argument("--check", action="store_true", help="Write nothing; fail if a card differs.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "evaluate":
            self._evaluate(options)
        else:
            self._cards(options)

    def _evaluate(self, o: dict[str, Any]) -> None:
        if o["query"]:
            lon, lat, t, source = self._query(o)
        else:
            if not o["events"]:
                raise CommandError("give an events CSV, or --query --user NAME")
            path = Path(o["events"])
            if not path.exists():
                raise CommandError(f"no such file: {path}")
            lon, lat, t = read_events_csv(path)
            source = path.name
        self.stdout.write(f"{len(t)} events; evaluating {o['origins']} origins of {o['horizon_days']:g} days ...")

        def progress(i: int, n: int, origin: float) -> None:
            self.stdout.write(f"  origin {i}/{n} ({runner.day_text(origin)})")

        try:
            results, info = runner.evaluate(lon, lat, t, o["resolution"], o["horizon_days"], o["origins"],
                                            [m for m in o["models"].split(",") if m], progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        md, js = runner.write(results, info, Path(o["out"]), source)
        self.stdout.write(self.style.SUCCESS(f"wrote {md} and {js}"))

    def _query(self, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        from sitaware.analytics import services
        from sitaware.core.scope import actor_for

        if not o["user"]:
            raise CommandError("--query needs --user: records are read in that user's scope")
        user = get_user_model().objects.filter(username=o["user"]).first()
        if user is None:
            raise CommandError(f"no user {o['user']!r}")
        if bool(o["bbox"]) == bool(o["admin1"]):
            raise CommandError("--query needs exactly one of --bbox or --admin1")
        since = dt.datetime.fromisoformat(o["since"]).replace(tzinfo=dt.UTC) if o["since"] else None
        categories = [c.strip() for c in o["categories"].split(",") if c.strip()]
        try:
            lon, lat, t, n = services.evaluation_events(actor_for(user), categories, o["bbox"] or o["admin1"], since)
        except (PermissionDenied, ValueError) as exc:
            raise CommandError(str(exc)) from None
        source = (f"records in the scope of {o['user']} (categories {', '.join(categories) or 'all'}, "
                  f"area {o['bbox'] or o['admin1']}, since {o['since'] or 'the start'}; {n} read, patrol-discovered "
                  "left out)")
        return lon, lat, t, source

    def _cards(self, o: dict[str, Any]) -> None:
        results = json.loads(Path(o["results"]).read_text(encoding="utf-8"))
        out = Path(o["out"])
        stale = []
        for model in o["model"] or list(MODELS):
            text = modelcard.render(model, results)
            path = out / f"forecast-{model}.md"
            if o["check"]:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    stale.append(str(path))
                continue
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {path}")
        if stale:
            raise CommandError("model cards differ from the latest evaluation run: " + ", ".join(stale)
                               + "; run `sitaware forecast model-card`")
