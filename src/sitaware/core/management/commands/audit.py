"""`sitaware audit verify`: recompute the change log's hash chain and name the first broken entry."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sitaware.core import changelog
from sitaware.core.models import ChangeEntry


class Command(BaseCommand):
    help = "Audit the change log. `verify` recomputes every hash link and names the first broken entry."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="verify")
        verify = sub.add_parser(
            "verify",
            help="Recompute the hash chain; exit 1 naming the first broken entry.",
            description="Recompute every entry's SHA-256 and its link to the previous one. Exits 0 when the "
            "chain holds, 1 when an entry was altered, removed or cut from the end.",
        )
        verify.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args, subcommand: str, **options) -> None:
        if subcommand == "verify":
            self._verify(show_progress=not options.get("no_progress"))

    def _verify(self, *, show_progress: bool) -> None:
        total = ChangeEntry.objects.count()
        started = time.monotonic()
        # disable=None: draw only on a terminal, so logs and pipes get the summary alone.
        with tqdm(total=total, unit=" entries", desc="verifying", disable=None if show_progress else True,
                  leave=False) as bar:
            result = changelog.verify(progress=bar.update)
        elapsed = time.monotonic() - started
        summary = f"Checked {result.checked} of {total} change-log entries in {elapsed:.2f} s."
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"{summary} The chain holds."))
            return
        self.stdout.write(summary)
        raise CommandError(f"the change log is broken at {_describe(result.first_broken_seq)}: {result.reason}",
                           returncode=1)


def _describe(seq: int | None) -> str:
    entry = ChangeEntry.objects.filter(seq=seq).first() if seq is not None else None
    if entry is None:
        return f"entry seq {seq} (absent)"
    return (f"entry seq {entry.seq} (action {entry.action}, object {entry.object_type}:{entry.object_id}, "
            f"at {entry.at.isoformat()}, by {entry.actor_label})")
