"""TAK / Cursor-on-Target (`tak`): a listener source. TAK clients connect to `sitaware tak serve`; their unit
positions feed patrol tracking, and accepted alerts are pushed back to them as CoT markers.

The source holds the listener's settings and the operator's explicit uid mapping; its health shows the
listener's life (connected clients, last position, rejects). Positions are not intake items: they go to the
planning app's tracking service, in the name of the service account the operator configured (`actor`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sitaware.ingest.adapters.base import Adapter
from sitaware.ingest.tak.cot import ALERT_TYPE, MAX_EVENT_BYTES, TYPE_RE, UID_MAX

PATROL_MAX = 60


def check_mapping(uid: Any, target: Any) -> dict[str, str]:
    """One uid → {plan, patrol} entry, or ValueError naming what is wrong."""
    if not isinstance(uid, str) or not uid.strip() or len(uid) > UID_MAX:
        raise ValueError(f"uids: {str(uid)[:40]!r} is not a TAK uid (1-{UID_MAX} characters)")
    if not isinstance(target, dict):
        raise ValueError(f"uids.{uid}: give {{\"plan\": <plan id>, \"patrol\": <patrol id in the plan>}}")
    try:
        plan = str(uuid.UUID(str(target.get("plan"))))
    except ValueError:
        raise ValueError(f"uids.{uid}.plan: {str(target.get('plan'))[:40]!r} is not a plan id") from None
    patrol = target.get("patrol")
    if not isinstance(patrol, str) or not patrol.strip() or len(patrol) > PATROL_MAX:
        raise ValueError(f"uids.{uid}.patrol: the patrol's id within the plan (e.g. \"hq-1\")")
    return {"plan": plan, "patrol": patrol.strip()}


class TakAdapter(Adapter):
    kind = "tak"
    label = "TAK / Cursor-on-Target listener"
    pull = False

    @classmethod
    def prepare_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        actor = config.get("actor")
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("actor: the username of the service account the listener acts as (it needs the "
                             "right to send positions for the mapped patrols: an analyst, or a reporter of the "
                             "patrol's unit)")
        uids = config.get("uids") or {}
        if not isinstance(uids, dict):
            raise ValueError("uids: a mapping of TAK uid → {plan, patrol}")
        config["uids"] = {uid.strip(): check_mapping(uid, target) for uid, target in uids.items()}
        alert_type = config.setdefault("alert_type", ALERT_TYPE)
        if not isinstance(alert_type, str) or not TYPE_RE.match(alert_type):
            raise ValueError(f"alert_type: {str(alert_type)[:40]!r} is not a CoT type (e.g. {ALERT_TYPE})")
        max_bytes = config.setdefault("max_event_bytes", MAX_EVENT_BYTES)
        if not isinstance(max_bytes, int) or not 1024 <= max_bytes <= 1024 * 1024:
            raise ValueError("max_event_bytes: between 1024 and 1048576")
        return config
