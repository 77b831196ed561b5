"""Automatic triage on arrival: every new intake item gets one triage task, run by the task worker.

How: a `post_save` receiver on IntakeItem queues `triage_item_task` for each item created while the
`intake-triage` component is switched on. With the database task backend the task row is written in the same
transaction as the item, so an item and its task commit together or not at all (nothing is lost between the
two, nothing is queued for an item that was rolled back). Switched off: nothing is queued, intake is untouched.

Why one task per item rather than a sweep: a failing item fails alone (its task is marked FAILED with the
error, logged, never retried in a loop), the others and the intake carry on, and an item is triaged seconds
after it arrives instead of at the next tick. Items that arrived while triage was off are not queued later:
`sitaware triage run --as USER` triages that backlog.

Re-delivery never triages twice: an intake source that repeats a message makes no new item (dedupe), and a
task run twice (two workers, a replayed task) takes the item's row lock and finds the TriageResult made by
the first run (`triage_item` returns it).

Who asks: R-AI-03 names a requester for every recommendation, a person or a service account. Automatic
triage files them under the organisation's service account `intake-triage.<organisation code>` (an analyst
account without a password or token, so no one can sign in as it), created on first use and logged in the
change log. An administrator who deactivates it stops automatic triage for that organisation only.
Nothing here changes a record: triage only files proposals that an analyst decides on.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save
from django_tasks import task

from sitaware.core.choices import Role, Sensitivity
from sitaware.core.scope import Actor, actor_for, system_actor
from sitaware.ingest.models import IntakeItem, ItemStatus

log = logging.getLogger("sitaware.triage")
SERVICE_PREFIX = "intake-triage."


def switched_on() -> bool:
    """Whether the triage component is registered and enabled (read every time: the kill switch acts at once)."""
    from sitaware.oversight.models import AIComponent
    from sitaware.triage.services import COMPONENT_KEY

    return AIComponent.objects.filter(key=COMPONENT_KEY, enabled=True).exists()


def on_item_saved(sender: Any, instance: IntakeItem, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Queue the triage of a new item. Never lets a queueing failure stop the intake."""
    if not created or raw:
        return
    try:
        # A savepoint: if queueing fails, the item's own transaction stays usable and the item is stored.
        with transaction.atomic():
            if not switched_on():
                return
            triage_item_task.enqueue(str(instance.pk))
    except Exception:
        log.exception("could not queue the triage of intake item %s; it stays untriaged (run `sitaware triage "
                      "run`)", instance.pk)


def connect() -> None:
    """Called once from TriageConfig.ready()."""
    post_save.connect(on_item_saved, sender=IntakeItem, dispatch_uid="sitaware.triage.auto")


def service_actor(organisation_id: Any) -> Actor:
    """The organisation's triage service account, created (and logged) on first use."""
    from sitaware.core import services as core
    from sitaware.core.models import Organisation

    organisation = Organisation.objects.get(pk=organisation_id)
    username = f"{SERVICE_PREFIX}{organisation.code}"[:150]
    User = get_user_model()
    user = User.objects.filter(username=username).select_related("membership").first()
    if user is None:
        try:
            with transaction.atomic():
                user = core.create_user(system_actor("intake-triage"), username=username, password=None,
                                        organisation=organisation, role=Role.ANALYST.value,
                                        clearance=max(Sensitivity.values))
        except (IntegrityError, ValueError):
            # Another worker made it at the same moment.
            user = User.objects.select_related("membership").get(username=username)
    actor = actor_for(user)  # PermissionDenied when deactivated or without membership
    if actor.organisation_id != organisation.pk or not actor.can("import"):
        raise PermissionError(f"the account {username!r} exists but is not an analyst of {organisation.code}; "
                              "automatic triage for this organisation is stopped until it is")
    return actor


@task()
def triage_item_task(item_id: str) -> dict[str, Any]:
    """Triage one new item, once. Returns what happened; raises (task FAILED, logged) when triage failed."""
    from sitaware.oversight.errors import ComponentDisabled
    from sitaware.triage import services
    from sitaware.triage.models import TriageResult

    if not switched_on():
        return {"item": item_id, "status": "switched_off"}
    try:
        with transaction.atomic():
            # The row lock makes a second run of the same task wait, then find the first run's result.
            item = IntakeItem.objects.select_for_update().filter(pk=item_id).first()
            if item is None:
                return {"item": item_id, "status": "gone"}
            if item.status != ItemStatus.NEW:
                return {"item": item_id, "status": "already_handled"}
            if TriageResult.objects.filter(item_id=item.pk).exists():
                return {"item": item_id, "status": "already_triaged"}
            result = services.triage_item(service_actor(item.organisation_id), item.pk)
    except ComponentDisabled:
        return {"item": item_id, "status": "switched_off"}
    except Exception:
        log.exception("automatic triage of intake item %s failed; the item stays new and untriaged", item_id)
        raise
    return {"item": item_id, "status": "triaged", "recommendations": len(result.recommendations)}
