"""`sitaware triage run|retrain|gazetteer|train-crisislex`: triage from the console."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitaware.core.scope import actor_for
from sitaware.ingest.models import IntakeItem, ItemStatus
from sitaware.oversight.errors import OversightError
from sitaware.triage import services
from sitaware.triage.models import TriageResult


class Command(BaseCommand):
    help = ("Intake triage: run it on new items (as a named analyst), retrain the relevance and category models "
            "from analysts' decisions, load the mission gazetteer, or rebuild the shipped CrisisLexT26 models.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True,
                                    metavar="{run,retrain,gazetteer,train-crisislex}")
        run = sub.add_parser("run", help="Triage new items not triaged yet; recommendations are filed in the name "
                                         "of --as (an analyst or supervisor, or a service account).")
        run.add_argument("--as", dest="username", required=True)
        run.add_argument("--limit", type=int, default=500)
        retrain = sub.add_parser("retrain", help="Retrain the relevance and category models from analysts' "
                                                 "decisions on intake items (written under DATA_DIR/triage/models).")
        retrain.add_argument("--out", type=Path)
        gaz = sub.add_parser("gazetteer", help="Check and install the mission gazetteer (CSV: name, "
                                               "alternate_names, lat, lon, admin1, admin2, pcode, feature_type).")
        gaz.add_argument("csv", type=Path)
        ship = sub.add_parser("train-crisislex", help="Rebuild the shipped relevance and information-type models "
                                                      "from a CrisisLexT26 folder (maintainers).")
        ship.add_argument("folder", type=Path)
        ship.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "models")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "_" + options["action"].replace("-", "_"))(options)

    def _run(self, options: dict[str, Any]) -> None:
        user = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['username']!r}")
        actor = actor_for(user)
        pending = (IntakeItem.objects.filter(status=ItemStatus.NEW, organisation_id=actor.organisation_id)
                   .exclude(pk__in=TriageResult.objects.values("item_id")).order_by("received_at")
                   .values_list("pk", flat=True)[: options["limit"]])
        done = 0
        for pk in list(pending):
            try:
                services.triage_item(actor, pk)
            except OversightError as exc:
                raise CommandError(str(exc)) from None
            done += 1
        self.stdout.write(f"triaged {done} item(s)")

    def _retrain(self, options: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(services.retrain(options.get("out")), indent=1))

    def _gazetteer(self, options: dict[str, Any]) -> None:
        try:
            self.stdout.write(json.dumps(services.load_gazetteer(options["csv"]), indent=1))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None

    def _train_crisislex(self, options: dict[str, Any]) -> None:
        from sitaware.triage import crisislex

        self.stdout.write(json.dumps(crisislex.train_shipped(options["folder"], options["out"]), indent=1))
