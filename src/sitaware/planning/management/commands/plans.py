"""`sitaware plans list|verify-actual`: patrol plans from the console, and an audit of plan-vs-actual figures."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitaware.planning.models import Plan
from sitaware.planning.tracking import recompute_actual


class Command(BaseCommand):
    help = ("Patrol plans: list them, or recompute every stored plan-vs-actual result from the stored positions "
            "and report any that differ (exit status 1).")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{list,verify-actual}")
        sub.add_parser("list", help="Plans with their shift, status and version, newest first.")
        sub.add_parser("verify-actual", help="Recompute stored plan-vs-actual figures and compare.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for p in Plan.objects.select_related("request", "organisation").order_by("-created_at")[:200]:
                self.stdout.write(f"{p.id}  {p.organisation.code:<10} {p.request.shift_start:%Y-%m-%d %H:%M} "
                                  f"{p.status:<10} v{p.version} feasible={p.feasible}")
            return
        checked, differ = 0, []
        for plan in Plan.objects.filter(actual__isnull=False).select_related("request"):
            checked += 1
            if recompute_actual(plan) != plan.actual:
                differ.append(str(plan.id))
        for pid in differ:
            self.stderr.write(f"plan {pid}: stored plan-vs-actual differs from a recomputation")
        self.stdout.write(f"{checked} plan(s) checked, {len(differ)} differ")
        if differ:
            raise CommandError("stored plan-vs-actual figures do not match the stored positions")
