"""The `sitaware` console command: our commands first, every Django management command behind them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# (command line, one-line summary). The order is the order a new operator meets them.
OUR_COMMANDS: tuple[tuple[str, str], ...] = (
    ("serve", "Serve the web application and API (uvicorn), with a task worker in-process by default."),
    ("worker", "Run a background task worker (imports, exports, patrol plans, analytics jobs)."),
    ("migrate", "Create or update the database tables; run after every upgrade."),
    ("demo", "Load the demonstration scenario (organisations, users in every role, records)."),
    ("createuser", "Create an account in an organisation and unit, with a role and clearance."),
    ("import", "Import records from a file (CSV, GeoJSON, UCDP GED, ACLED)."),
    ("export", "Export the records in your scope to CSV or GeoJSON, logged with filter and recipient."),
    ("audit verify", "Recompute the change log's hash chain and name the first broken entry."),
    ("indicators recompute", "Compute performance indicators from the records, fully or from the last watermark."),
    ("forecast evaluate", "Rolling-origin evaluation of the forecasting models on an event file or your records."),
    ("detect run", "Run early-warning detectors now (one, or all that are due), with progress."),
    ("triage run", "Suggest language, relevance, category, place, redaction and duplicates for new intake items."),
    ("plans list", "List patrol plans in your scope; `plans verify-actual` recomputes plan-versus-actual figures."),
    ("ingest poll", "Poll field-intake sources (feeds, exports, MQTT) that are due and check for silent ones."),
    ("tak serve", "Listen for TAK clients: unit positions in for patrol tracking, accepted alerts out as CoT."),
)


def usage(prog: str = "sitaware") -> str:
    width = max(len(name) for name, _ in OUR_COMMANDS)
    lines = [
        f"usage: {prog} <command> [options]",
        "",
        "Shared situational awareness for police components of peace operations.",
        "",
        "Commands:",
        *(f"  {name.ljust(width)}  {summary}" for name, summary in OUR_COMMANDS),
        "",
        f"Each command explains itself: {prog} <command> --help",
        f"Every other Django management command is available too: {prog} help <django command>",
        f"(`{prog} help` alone lists them all).",
        "",
        "Settings come from the environment (SITAWARE_DATA_DIR, DATABASE_URL, ...); see README.md.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if args[0] == "--version":
        from sitaware import __version__

        print(__version__)
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitaware.settings")
    from django.core.management import execute_from_command_line

    # Django names the program after argv[0]: "sitaware demo --help" then reads as the user typed it.
    execute_from_command_line(["sitaware", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
