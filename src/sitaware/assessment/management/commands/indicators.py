"""`sitaware indicators recompute`: refresh computed indicators from the change log, rebuild them in full for
a period range, or check that stored figures reproduce."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sitaware.assessment import values
from sitaware.assessment.errors import AssessmentError
from sitaware.assessment.models import DataSource, Indicator, IndicatorStatus
from sitaware.assessment.periods import PeriodError, parse_label
from sitaware.core.scope import system_actor


class Command(BaseCommand):
    help = "Work on computed indicators (see: sitaware indicators recompute --help)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="recompute")
        recompute = sub.add_parser(
            "recompute", help="Refresh computed indicators (only periods touched since the last run), rebuild "
            "them in full for --from..--to, or --check that stored figures reproduce.")
        recompute.add_argument("--organisation", metavar="CODE", help="Only this organisation's indicators.")
        recompute.add_argument("--framework", metavar="CODE", help="Only this framework (every version).")
        recompute.add_argument("--indicator", metavar="CODE", action="append", default=[],
                               help="Only this indicator code; repeat for more.")
        recompute.add_argument("--from", dest="first", metavar="PERIOD", help="First period of a full rebuild, "
                               "e.g. 2025-01, 2025-Q1 or 2025.")
        recompute.add_argument("--to", dest="last", metavar="PERIOD", help="Last period (inclusive).")
        recompute.add_argument("--check", action="store_true",
                               help="Store nothing: recompute the stored figures and name any that differ.")
        recompute.add_argument("--all", action="store_true", help="Include draft indicators, not only active ones.")
        recompute.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        indicators = Indicator.objects.filter(data_source=DataSource.COMPUTED).select_related(
            "framework__organisation").order_by("framework__organisation__code", "framework__code",
                                                "framework__version", "code")
        if not options["all"]:
            indicators = indicators.filter(status=IndicatorStatus.ACTIVE)
        if options["organisation"]:
            indicators = indicators.filter(framework__organisation__code=options["organisation"])
        if options["framework"]:
            indicators = indicators.filter(framework__code=options["framework"])
        if options["indicator"]:
            indicators = indicators.filter(code__in=options["indicator"])
        chosen = list(indicators)
        if not chosen:
            raise CommandError("no computed indicator matches (drafts need --all)")
        span = None
        if options["first"] or options["last"]:
            if not (options["first"] and options["last"]):
                raise CommandError("a full rebuild needs both --from and --to")
            try:
                span = (parse_label(options["first"])[0].start, parse_label(options["last"])[0].end)
            except PeriodError as exc:
                raise CommandError(str(exc)) from None
        actor = system_actor("indicators recompute")
        bar = tqdm(chosen, unit="indicator", disable=options["no_progress"], file=self.stderr)
        failed = 0
        for ind in bar:
            name = f"{ind.framework.organisation.code}/{ind.framework.code}@{ind.framework.version}/{ind.code}"
            bar.set_postfix_str(name)
            try:
                if options["check"]:
                    mismatches = values.reproduce(ind)
                    failed += bool(mismatches)
                    verdict = "reproduces" if not mismatches else f"{len(mismatches)} figure(s) differ"
                    self.stdout.write(f"{name}: {verdict}")
                    for m in mismatches[:20]:
                        self.stdout.write(f"  {m.period} {m.disaggregation or 'total'}: stored {m.stored}, "
                                          f"recomputed {m.recomputed}")
                    continue
                result = values.compute(actor, ind, *span) if span else values.refresh(actor, ind)
            except AssessmentError as exc:
                failed += 1
                self.stdout.write(f"{name}: {exc}")
                continue
            self.stdout.write(f"{name}: {result.mode}, {result.periods} period(s), {result.created} new, "
                              f"{result.changed} changed, {result.unchanged} unchanged, {result.removed} removed "
                              f"(data up to change {result.cutoff})")
        if failed:
            raise CommandError(f"{failed} indicator(s) did not {'reproduce' if options['check'] else 'compute'}")
