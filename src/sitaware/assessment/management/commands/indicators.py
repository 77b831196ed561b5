"""`sitaware indicators recompute`: refresh computed indicators from the change log, rebuild them in full for
a period range, or check that stored figures reproduce. `sitaware indicators report`: the periodic performance
report of a framework as PDF or XLSX. `sitaware indicators schedule`: queue the refresh loop for the worker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sitaware.assessment import engine, values
from sitaware.assessment.errors import AssessmentError
from sitaware.assessment.models import DataSource, Indicator, IndicatorStatus
from sitaware.assessment.periods import PeriodError, parse_label
from sitaware.core.scope import system_actor


class Command(BaseCommand):
    help = "Work on computed indicators (see: sitaware indicators recompute --help)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{recompute,report,schedule}")
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
        report = sub.add_parser("report", help="Write a framework's performance report (PDF or XLSX).")
        report.add_argument("--framework", metavar="CODE", required=True, help="The framework's code.")
        report.add_argument("--organisation", metavar="CODE", help="Its organisation (when codes repeat).")
        report.add_argument("--version", dest="fw_version", type=int, metavar="N",
                            help="This version (default: the active one, else the latest).")
        report.add_argument("--format", choices=("pdf", "xlsx"), default="xlsx")
        report.add_argument("--language", choices=("en", "fr"), default="en")
        report.add_argument("--since", metavar="DATE", help="Periods starting on or after this date (YYYY-MM-DD).")
        report.add_argument("--until", metavar="DATE", help="Periods starting before this date.")
        report.add_argument("--user", metavar="USERNAME",
                            help="Build it as this user sees it (default: the system, which sees everything).")
        report.add_argument("--output", metavar="FILE", help="Where to write it (default: its own name, here).")
        sub.add_parser("schedule", help="Queue the automatic refresh of indicators for `sitaware worker` "
                       "(safe to repeat).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "report":
            return self._report(options)
        if options["action"] == "schedule":
            from sitaware.assessment import jobs

            queued = jobs.ensure_scheduled()
            self.stdout.write("indicator refresh queued for the worker" if queued else "already queued")
            return None
        return self._recompute(options)

    def _report(self, options: dict[str, Any]) -> None:
        import datetime as dt
        from pathlib import Path

        from django.contrib.auth import get_user_model

        from sitaware.assessment import report
        from sitaware.assessment.models import ResultsFramework
        from sitaware.core.scope import actor_for

        frameworks = ResultsFramework.objects.filter(code=options["framework"])
        if options["organisation"]:
            frameworks = frameworks.filter(organisation__code=options["organisation"])
        if options["fw_version"]:
            frameworks = frameworks.filter(version=options["fw_version"])
        if len({f.organisation_id for f in frameworks}) > 1:
            raise CommandError("several organisations have this framework code: give --organisation")
        fw = frameworks.filter(status="active").first() or frameworks.order_by("-version").first()
        if fw is None:
            raise CommandError(f"no framework {options['framework']}")
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']}")
            actor = actor_for(user)
        else:
            actor = system_actor("indicators report")
        try:
            since = dt.date.fromisoformat(options["since"]) if options["since"] else None
            until = dt.date.fromisoformat(options["until"]) if options["until"] else None
        except ValueError as exc:
            raise CommandError(f"--since/--until: {exc}") from None
        try:
            fw, content, _type, name = report.render(actor, fw.pk, fmt=options["format"],
                                                     language=options["language"], since=since, until=until)
        except AssessmentError as exc:
            raise CommandError(str(exc)) from None
        path = Path(options["output"] or name)
        path.write_bytes(content)
        self.stdout.write(f"{path} ({len(content):,} bytes)")

    @staticmethod
    def _name(ind: Indicator) -> str:
        return f"{ind.framework.organisation.code}/{ind.framework.code}@{ind.framework.version}/{ind.code}"

    def _check(self, ind: Indicator, bar: Any) -> bool:
        """Recompute through the query path and compare: True when some figure differs."""
        name = self._name(ind)
        bar.set_postfix_str(name)
        mismatches = values.reproduce(ind)
        bar.update(1)
        self.stdout.write(f"{name}: " + ("reproduces" if not mismatches else f"{len(mismatches)} figure(s) differ"))
        for m in mismatches[:20]:
            self.stdout.write(f"  {m.period} {m.disaggregation or 'total'}: stored {m.stored}, "
                              f"recomputed {m.recomputed}")
        return bool(mismatches)

    def _compute(self, actor: Any, chosen: list[Indicator], span: tuple | None, bar: Any) -> int:
        """Plan every indicator (a full rebuild of `span`, or a refresh), then compute them all from one read
        of the records per organisation and store them together."""
        cutoff = engine.current_seq()
        plans = values.plan(actor, chosen, cutoff, span=span)
        for ind, exc in plans.failed:
            bar.update(1)
            self.stdout.write(f"{self._name(ind)}: {exc}")
        bar.set_postfix_str("reading the records")

        def progress(stage: str, count: int) -> None:
            bar.set_postfix_str(f"{stage} {count}/{len(plans.works)}")

        failed = len(plans.failed)
        for work, outcome in zip(plans.works, values.run(actor, plans.works, cutoff, progress), strict=True):
            bar.update(1)
            name = self._name(work.indicator)
            if isinstance(outcome, Exception):
                failed += 1
                self.stdout.write(f"{name}: {outcome}")
                continue
            self.stdout.write(f"{name}: {outcome.mode}, {outcome.periods} period(s), {outcome.created} new, "
                              f"{outcome.changed} changed, {outcome.unchanged} unchanged, {outcome.removed} "
                              f"removed (data up to change {outcome.cutoff})")
        return failed

    def _recompute(self, options: dict[str, Any]) -> None:
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
        bar = tqdm(total=len(chosen), unit="indicator", disable=options["no_progress"], file=self.stderr)
        if options["check"]:
            failed = sum(self._check(ind, bar) for ind in chosen)
        else:
            failed = self._compute(actor, chosen, span, bar)
        if failed:
            raise CommandError(f"{failed} indicator(s) did not {'reproduce' if options['check'] else 'compute'}")
