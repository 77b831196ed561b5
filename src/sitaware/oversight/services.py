"""Public services of the oversight app: the component registry, the recommendation gate and the decision gate.

Other apps use only this module. The flow (R-AI-03, R-AI-04, R-AI-05):

1. `recommend(actor, key, request, produce)` checks the component's kill switch in the database on every call,
   runs `produce()` only when it is on, and stores a Recommendation with every R-AI-03 field. Nothing changes
   anywhere else: a recommendation is advice.
2. `decide(actor, id, outcome, reason)` records a person's accept / modify / reject. Only then, and only on
   accept or modify, is the proposal handed to the applier the owning app registered with `register_applier`;
   the applier acts through that app's own services with the decider as actor, so the change is an ordinary
   revision authored by the decider. Appliers are called from nowhere else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from sitaware.core import changelog
from sitaware.core.canonical import canonical_json
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role, Sensitivity
from sitaware.core.scope import ROLE_ACTIONS, Actor, restrict, system_actor
from sitaware.oversight.errors import (
    AlreadyDecided,
    ComponentDisabled,
    ComponentNotFound,
    OversightValidationError,
    RecommendationNotFound,
)
from sitaware.oversight.models import AIComponent, Decision, DecisionOutcome, Recommendation, RecommendationStatus
from sitaware.records.errors import RecordNotFound, VersionConflict

REASON_MAX = 2000
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")
_STATUS_FOR = {
    DecisionOutcome.ACCEPT: RecommendationStatus.ACCEPTED,
    DecisionOutcome.MODIFY: RecommendationStatus.MODIFIED,
    DecisionOutcome.REJECT: RecommendationStatus.REJECTED,
}


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class ComponentSpec:
    key: str
    name: str
    purpose: str
    owner: str
    model_version: str
    artefact_hash: str
    decider_roles: Sequence[str]
    enabled: bool = False
    manual_path: str = ""
    model_card: str = ""
    art5_screen: str = ""
    annex_iii: str = ""


def component_state(component: AIComponent) -> dict[str, Any]:
    """What the change log records of a component, and the API shows."""
    return {
        "key": component.key,
        "name": component.name,
        "purpose": component.purpose,
        "owner": component.owner,
        "enabled": component.enabled,
        "manual_path": component.manual_path,
        "model_version": component.model_version,
        "artefact_hash": component.artefact_hash,
        "decider_roles": list(component.decider_roles),
    }


def _check_spec(spec: ComponentSpec) -> None:
    problems = []
    if not _KEY.match(spec.key or ""):
        problems.append({"field": "key", "message": "2-60 lower-case letters, digits and hyphens"})
    for name in ("name", "purpose", "owner", "model_version", "artefact_hash"):
        if not str(getattr(spec, name) or "").strip():
            problems.append({"field": name, "message": "required"})
    deciders = [r for r in Role.values if "decide" in ROLE_ACTIONS.get(r, frozenset())]
    roles = list(spec.decider_roles or [])
    if not roles:
        problems.append({"field": "decider_roles", "message": f"name at least one of {', '.join(deciders)}"})
    for role in roles:
        if role not in deciders:
            problems.append(
                {"field": "decider_roles", "message": f"{role!r} may not decide; use some of {', '.join(deciders)}"}
            )
    if problems:
        raise OversightValidationError(problems)


def _log_component(actor: Actor, action: str, component: AIComponent, before: Any, after: Any,
                   **extra: Any) -> None:
    # Components are not any one organisation's; the entry goes to the acting administrator's organisation
    # so that its oversight officers see it in their change log.
    changelog.append(
        [PendingEntry(action=action, object_type="ai_component", object_id=component.key, before=before,
                      after=after, organisation_id=actor.organisation_id, extra=extra)],
        actor_id=actor.user_id,
        actor_label=actor.label,
    )


def register_component(actor: Actor, spec: ComponentSpec) -> AIComponent:
    """Add a component to the registry (administrators). Logged as `component.register`."""
    actor.require("manage_components")
    _check_spec(spec)
    now = timezone.now()
    with transaction.atomic():
        if AIComponent.objects.filter(key=spec.key).exists():
            raise OversightValidationError([{"field": "key", "message": f"{spec.key!r} is already registered"}])
        component = AIComponent.objects.create(
            key=spec.key, name=spec.name, purpose=spec.purpose, owner=spec.owner, enabled=spec.enabled,
            manual_path=spec.manual_path, model_version=spec.model_version, artefact_hash=spec.artefact_hash,
            decider_roles=list(spec.decider_roles), model_card=spec.model_card, art5_screen=spec.art5_screen,
            annex_iii=spec.annex_iii, created_at=now, updated_at=now,
        )
        _log_component(actor, "component.register", component, None, component_state(component))
    return component


def set_enabled(actor: Actor, key: str, enabled: bool, *, reason: str = "") -> AIComponent:
    """The kill switch. Administrators switch on and off; oversight officers may only switch off."""
    if enabled or not actor.can("suspend_component"):
        actor.require("manage_components")
    with transaction.atomic():
        component = AIComponent.objects.select_for_update().filter(key=key).first()
        if component is None:
            raise ComponentNotFound(f"no component {key!r}; see the list of registered components")
        if component.enabled == enabled:
            return component
        before = {"enabled": component.enabled}
        component.enabled = enabled
        component.updated_at = timezone.now()
        component.save(update_fields=["enabled", "updated_at"])
        _log_component(actor, "component.enable" if enabled else "component.disable", component, before,
                       {"enabled": enabled}, reason=reason.strip())
    return component


def list_components(actor: Actor) -> list[AIComponent]:
    actor.require("view")
    return list(AIComponent.objects.order_by("key"))


def get_component(actor: Actor, key: str) -> AIComponent:
    actor.require("view")
    component = AIComponent.objects.filter(key=key).first()
    if component is None:
        raise ComponentNotFound(f"no component {key!r}; see the list of registered components")
    return component


# Other apps add their shipped components here (from their AppConfig.ready), as functions that return a
# ComponentSpec, so that this app never imports theirs.
_BUILTIN_PROVIDERS: list[Callable[[], Any]] = []


def register_builtin(provider: Callable[[], Any]) -> None:
    """Declare a component the code ships; ensure_builtin_components registers it. Idempotent."""
    if provider not in _BUILTIN_PROVIDERS:
        _BUILTIN_PROVIDERS.append(provider)


def ensure_builtin_components(actor: Actor | None = None) -> list[AIComponent]:
    """Register the components sitaware ships, if they are not registered yet; idempotent.

    Why a service and not a data migration: registering writes a change-log entry with an actor, which a
    migration cannot do faithfully, and the built-in component's artefact hash comes from the taxonomy file
    the running code ships. `sitaware demo` (and an operator, after `migrate`) calls this. A component
    already registered keeps its on/off state: an administrator who switched it off is never overruled. Its
    model version and artefact hash are brought up to date (logged as `component.update`) when the code
    that runs has changed.
    """
    from sitaware.oversight import suggest_category

    actor = actor or system_actor("builtin-components")
    out = []
    for spec in (suggest_category.builtin_spec(), *(provider() for provider in _BUILTIN_PROVIDERS)):
        existing = AIComponent.objects.filter(key=spec.key).first()
        if existing is None:
            out.append(register_component(actor, spec))
            continue
        if (existing.model_version, existing.artefact_hash) != (spec.model_version, spec.artefact_hash):
            actor.require("manage_components")
            with transaction.atomic():
                before = {"model_version": existing.model_version, "artefact_hash": existing.artefact_hash}
                existing.model_version, existing.artefact_hash = spec.model_version, spec.artefact_hash
                existing.updated_at = timezone.now()
                existing.save(update_fields=["model_version", "artefact_hash", "updated_at"])
                _log_component(actor, "component.update", existing, before,
                               {"model_version": spec.model_version, "artefact_hash": spec.artefact_hash})
        out.append(existing)
    return out


# ---------------------------------------------------------------- recommending


@dataclass(frozen=True)
class Produced:
    """What a component returns. `proposal` is what a decision would apply; None means it proposes nothing."""

    proposal: dict[str, Any] | None
    output: dict[str, Any]
    uncertainty: dict[str, Any]
    explanation: str
    limitations: str
    model_id: str
    model_version: str
    artefact_hash: str


@dataclass(frozen=True)
class Request:
    """What a recommendation is about and what the component reads.

    `inputs` is the content read (hashed, not stored: the references say where it lives); `record_ids` are the
    linked records, all of which (and `target_record`) the requester must be able to see. The recommendation's
    sensitivity is the highest of theirs, or of `sensitivity` when given; restricted when there is neither.
    """

    target_type: str
    target_id: str
    purpose: str
    inputs: Any
    input_refs: list[dict[str, Any]]
    parameters: dict[str, Any]
    record_ids: Sequence[str] = ()
    target_record: uuid.UUID | None = None
    sensitivity: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def input_hash(inputs: Any) -> str:
    """SHA-256 of the inputs' canonical JSON: the same content always hashes the same."""
    return hashlib.sha256(canonical_json(inputs).encode()).hexdigest()


def _switched_on(key: str) -> AIComponent:
    # Read from the database every time, never cached: the kill switch acts on the very next request.
    component = AIComponent.objects.filter(key=key).first()
    if component is None:
        raise ComponentNotFound(
            f"no component {key!r} is registered; an administrator registers the built-in ones "
            "(sitaware demo does, or call oversight.services.ensure_builtin_components)"
        )
    if not component.enabled:
        raise ComponentDisabled(component.key, component.name, component.manual_path)
    return component


def _linked(actor: Actor, record_ids: Sequence[str]) -> int:
    """The highest sensitivity of the linked records; every one must be in the requester's scope."""
    from sitaware.records.services import scoped_records

    wanted = {str(r) for r in record_ids}
    try:
        keys = [uuid.UUID(r) for r in wanted]
    except ValueError:
        raise RecordNotFound("a linked record id is not a record id") from None
    rows = list(scoped_records(actor).filter(pk__in=keys).values_list("pk", "sensitivity"))
    missing = wanted - {str(pk) for pk, _ in rows}
    if missing:
        raise RecordNotFound(f"no record {sorted(missing)[0]}")
    return max(s for _, s in rows)


def _check_produced(produced: Produced) -> None:
    empty = [name for name in ("explanation", "limitations", "model_id", "model_version", "artefact_hash")
             if not str(getattr(produced, name) or "").strip()]
    if empty or produced.uncertainty in (None, {}) or produced.output is None:
        missing = ", ".join(empty + (["uncertainty"] if not produced.uncertainty else []))
        raise ValueError(f"the component returned an output without {missing or 'output'}; R-AI-03 needs them all")


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def log_fields(rec: Recommendation) -> dict[str, Any]:
    """The R-AI-03 fields of a recommendation, as the change log keeps them."""
    return {
        "id": str(rec.id),
        "component": rec.component.key,
        "model_id": rec.model_id,
        "model_version": rec.model_version,
        "artefact_hash": rec.artefact_hash,
        "started_at": _utc(rec.started_at),
        "ended_at": _utc(rec.ended_at),
        "input_refs": rec.input_refs,
        "input_hash": rec.input_hash,
        "parameters": rec.parameters,
        "output": rec.output,
        "uncertainty": rec.uncertainty,
        "explanation": rec.explanation,
        "limitations": rec.limitations,
        "purpose": rec.purpose,
        "requested_by": rec.requested_by_id,
        "requested_role": rec.requested_role,
        "record_ids": rec.record_ids,
        "target_type": rec.target_type,
        "target_id": rec.target_id,
        "status": rec.status,
    }


def recommend(actor: Actor, component_key: str, request: Request, produce: Callable[[], Produced]) -> Recommendation:
    """Run a component through the gate: refused when switched off, logged in full when it runs."""
    if actor.system or actor.user_id is None:
        raise PermissionDenied("recommendations are requested by a person or a service account, not by the system")
    actor.require("view")
    _switched_on(component_key)
    purpose = (request.purpose or "").strip()
    if not purpose:
        raise OversightValidationError([{"field": "purpose", "message": "say what the recommendation is for"}])
    linked = [*request.record_ids, *([request.target_record] if request.target_record else [])]
    levels = [_linked(actor, linked)] if linked else []
    if request.sensitivity is not None:
        levels.append(int(request.sensitivity))
    sensitivity = max(levels) if levels else int(Sensitivity.RESTRICTED)
    started = timezone.now()
    produced = produce()
    ended = timezone.now()
    _check_produced(produced)
    with transaction.atomic():
        # Switched off while it ran: its output is discarded, not stored.
        component = _switched_on(component_key)
        rec = Recommendation.objects.create(
            component=component,
            model_id=produced.model_id,
            model_version=produced.model_version,
            artefact_hash=produced.artefact_hash,
            started_at=started,
            ended_at=ended,
            input_refs=request.input_refs,
            input_hash=input_hash(request.inputs),
            parameters=request.parameters,
            output={"proposal": produced.proposal, **produced.output},
            uncertainty=produced.uncertainty,
            explanation=produced.explanation,
            limitations=produced.limitations,
            purpose=purpose[:300],
            requested_by_id=actor.user_id,
            requested_role=actor.role,
            record_ids=[str(r) for r in request.record_ids],
            target_type=request.target_type,
            target_id=str(request.target_id),
            target_record=request.target_record,
            status=RecommendationStatus.PENDING if produced.proposal is not None else RecommendationStatus.EMPTY,
            organisation_id=actor.organisation_id,
            sensitivity=sensitivity,
            created_at=ended,
        )
        changelog.append(
            [PendingEntry(action="recommendation.create", object_type="recommendation", object_id=str(rec.id),
                          after=log_fields(rec), organisation_id=rec.organisation_id, sensitivity=rec.sensitivity,
                          record_id=rec.target_record, extra=request.extra)],
            actor_id=actor.user_id,
            actor_label=actor.label,
            at=ended,
        )
    return rec


# ---------------------------------------------------------------- reading


def scoped_recommendations(actor: Actor) -> QuerySet:
    """Every recommendation `actor` may see: scope narrows by organisation and sensitivity, and one about a
    record is visible only to those who can see that record.

    Recommendations stay within their organisation: a sharing agreement shares records on its own terms
    (statuses, withheld fields), and an explanation quoting a withheld narrative must not leak past them.
    """
    from sitaware.records.services import scoped_records

    qs = restrict(Recommendation.objects.all(), actor)
    if not actor.system:
        qs = qs.filter(organisation_id=actor.organisation_id).filter(
            Q(target_record__isnull=True) | Q(target_record__in=scoped_records(actor).values("id"))
        )
    return qs.select_related("component", "decision")


def get_recommendation(actor: Actor, recommendation_id: Any) -> Recommendation:
    try:
        key = uuid.UUID(str(recommendation_id))
    except ValueError:
        raise RecommendationNotFound(f"no recommendation {recommendation_id}") from None
    rec = scoped_recommendations(actor).filter(pk=key).first()
    if rec is None:
        raise RecommendationNotFound(f"no recommendation {recommendation_id}")
    return rec


def list_recommendations(actor: Actor, *, status: str | None = None, component: str | None = None,
                         limit: int = 100) -> list[Recommendation]:
    """Newest first. `status=pending` is the review queue."""
    if status is not None and status not in RecommendationStatus.values:
        raise OversightValidationError(
            [{"field": "status", "message": f"use one of {', '.join(RecommendationStatus.values)}"}]
        )
    qs = scoped_recommendations(actor)
    if status:
        qs = qs.filter(status=status)
    if component:
        qs = qs.filter(component__key=component)
    return list(qs.order_by("-created_at", "-id")[: max(1, min(limit, 500))])


def serialize_decision(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.pk,
        "recommendation": str(decision.recommendation_id),
        "outcome": decision.outcome,
        "reason": decision.reason,
        "final_output": decision.final_output,
        "decider": decision.decider_id,
        "decider_role": decision.decider_role,
        "decided_at": _utc(decision.decided_at),
        "applied": decision.applied,
        "apply_result": decision.apply_result,
    }


def serialize_recommendation(rec: Recommendation) -> dict[str, Any]:
    data = log_fields(rec)
    data.update(
        component_name=rec.component.name,
        target_record=str(rec.target_record) if rec.target_record else None,
        organisation=str(rec.organisation_id),
        sensitivity=rec.sensitivity,
        created_at=_utc(rec.created_at),
    )
    try:
        data["decision"] = serialize_decision(rec.decision)
    except Decision.DoesNotExist:
        data["decision"] = None
    return data


def rates(actor: Actor, component_key: str) -> dict[str, Any]:
    """Acceptance and override rates of one component over the recommendations `actor` may see (R-AI-06),
    overall and by the decider's role."""
    component = get_component(actor, component_key)
    qs = scoped_recommendations(actor).filter(component=component)
    by_status = dict(qs.values_list("status").annotate(n=Count("pk")).order_by())
    by_role: dict[str, dict[str, int]] = {}
    decided_rows = (
        Decision.objects.filter(recommendation__in=qs.values("pk"))
        .values_list("decider_role", "outcome").annotate(n=Count("pk")).order_by()
    )
    for role, outcome, n in decided_rows:
        by_role.setdefault(role, {o: 0 for o in DecisionOutcome.values})[outcome] = n
    accept = by_status.get(RecommendationStatus.ACCEPTED, 0)
    modify = by_status.get(RecommendationStatus.MODIFIED, 0)
    reject = by_status.get(RecommendationStatus.REJECTED, 0)
    decided = accept + modify + reject
    return {
        "component": component.key,
        "recommendations": sum(by_status.values()),
        "pending": by_status.get(RecommendationStatus.PENDING, 0),
        "empty": by_status.get(RecommendationStatus.EMPTY, 0),
        "decided": decided,
        "accept": accept,
        "modify": modify,
        "reject": reject,
        "acceptance_rate": round(accept / decided, 4) if decided else None,
        "override_rate": round((modify + reject) / decided, 4) if decided else None,
        "by_decider_role": by_role,
    }


# ---------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Applier:
    """How the owning app carries out an accepted proposal.

    `check(rec, output)` validates and normalises a proposal (or a decider's modification) before anything is
    recorded and raises OversightValidationError when it cannot be applied as given. `apply(actor, rec,
    decision)` makes the change through the owning app's services as `actor`; it returns a JSON-able result.
    """

    check: Callable[[Recommendation, Any], Any]
    apply: Callable[[Actor, Recommendation, Decision], dict[str, Any]]


_APPLIERS: dict[str, Applier] = {}


def register_applier(component_key: str, applier: Applier) -> None:
    _APPLIERS[component_key] = applier


def _decision_input(rec: Recommendation, outcome: str, reason: str, modified_output: Any,
                    applier: Applier | None) -> tuple[str, Any]:
    problems = []
    if outcome not in DecisionOutcome.values:
        problems.append({"field": "outcome", "message": f"use one of {', '.join(DecisionOutcome.values)}"})
    reason = (reason or "").strip()
    if not reason:
        problems.append({"field": "reason", "message": "give the reason for your decision (required for all three)"})
    elif len(reason) > REASON_MAX:
        problems.append({"field": "reason", "message": f"at most {REASON_MAX} characters"})
    if outcome == DecisionOutcome.MODIFY and modified_output in (None, {}):
        problems.append({"field": "modified_output", "message": "give your changed version of the proposal"})
    if outcome != DecisionOutcome.MODIFY and modified_output is not None:
        problems.append({"field": "modified_output", "message": "only for outcome 'modify'"})
    if problems:
        raise OversightValidationError(problems)
    if outcome == DecisionOutcome.REJECT:
        return reason, None
    final = rec.output.get("proposal") if outcome == DecisionOutcome.ACCEPT else modified_output
    if applier is not None:
        try:
            final = applier.check(rec, final)
        except OversightValidationError as exc:
            field_name = "modified_output" if outcome == DecisionOutcome.MODIFY else "proposal"
            raise OversightValidationError(
                [{**p, "field": f"{field_name}.{p['field']}"} for p in exc.problems]
            ) from None
    if outcome == DecisionOutcome.MODIFY and final == rec.output.get("proposal"):
        raise OversightValidationError(
            [{"field": "modified_output", "message": "is the same as the proposal; decide 'accept' instead"}]
        )
    return reason, final


def _may_decide(actor: Actor, component: AIComponent) -> None:
    actor.require("decide")
    if actor.role not in component.decider_roles:
        allowed = ", ".join(component.decider_roles) or "nobody"
        raise PermissionDenied(f"decisions on {component.name} are for: {allowed}; your role is {actor.role}")


def decide(actor: Actor, recommendation_id: Any, outcome: str, reason: str,
           modified_output: Any = None) -> Decision:
    """Record a person's decision on a recommendation, then (accept / modify only) apply it.

    The decision, its change-log entry, the change it causes and the outcome of applying it commit together.
    If the target moved on since the recommendation (a newer record version), the decision is still recorded
    and `apply_result` says why nothing was changed; a decider's invalid modification or missing right to
    make the change refuses the whole decision instead.
    """
    rec = get_recommendation(actor, recommendation_id)
    component = rec.component
    if actor.system or actor.user_id is None:
        raise PermissionDenied("decisions are made by a person")
    _may_decide(actor, component)
    if rec.status == RecommendationStatus.EMPTY:
        raise AlreadyDecided("this recommendation proposes nothing, so there is nothing to decide")
    applier = _APPLIERS.get(component.key)
    reason, final = _decision_input(rec, outcome, reason, modified_output, applier)
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().select_related("component").get(pk=rec.pk)
        if rec.status != RecommendationStatus.PENDING:
            raise AlreadyDecided(_already(rec))
        try:
            with transaction.atomic():
                decision = Decision.objects.create(
                    recommendation=rec, outcome=outcome, reason=reason, final_output=final,
                    decider_id=actor.user_id, decider_role=actor.role, decided_at=timezone.now(),
                )
        except IntegrityError:
            # Two deciders at once where rows are not locked: the one-to-one constraint lets only one through.
            raise AlreadyDecided(_already(rec)) from None
        rec.status = _STATUS_FOR[outcome]
        rec.save(update_fields=["status"])
        _log_decision(actor, rec, decision, "decision.create", None, serialize_decision(decision))
        if outcome != DecisionOutcome.REJECT:
            _apply(actor, rec, decision, applier)
    return decision


def _already(rec: Recommendation) -> str:
    decision = Decision.objects.filter(recommendation=rec).first()
    if decision is None:
        return f"this recommendation is {rec.status}; only pending ones can be decided"
    return (f"already decided ({decision.outcome}) by {decision.decider.get_username()} at "
            f"{_utc(decision.decided_at)}; one decision per recommendation")


def _log_decision(actor: Actor, rec: Recommendation, decision: Decision, action: str, before: Any,
                  after: Any) -> None:
    changelog.append(
        [PendingEntry(action=action, object_type="decision", object_id=str(decision.pk), before=before,
                      after=after, organisation_id=rec.organisation_id, sensitivity=rec.sensitivity,
                      record_id=rec.target_record,
                      extra={"recommendation": str(rec.id), "component": rec.component.key})],
        actor_id=actor.user_id,
        actor_label=actor.label,
    )


def _apply(actor: Actor, rec: Recommendation, decision: Decision, applier: Applier | None) -> None:
    """Carry out an accepted proposal. Reached only from decide(), after the Decision row exists."""
    if decision.pk is None or decision.outcome == DecisionOutcome.REJECT:
        raise RuntimeError("a proposal is applied only on a recorded accept or modify decision")
    if applier is None:
        result: dict[str, Any] = {"status": "recorded", "detail": "advisory only: this component changes nothing"}
        applied = False
    else:
        try:
            with transaction.atomic():
                result = applier.apply(actor, rec, decision)
            applied = True
        except VersionConflict as exc:
            result = {
                "status": "version_conflict",
                "detail": f"{exc}. The decision is recorded but nothing was changed: ask for a new suggestion "
                          "on the current version, or make the change by hand.",
                "current_version": exc.current_version,
                "base_version": exc.base_version,
            }
            applied = False
        except RecordNotFound as exc:
            result = {"status": "target_not_found", "detail": f"{exc}; the decision is recorded, nothing changed"}
            applied = False
    decision.applied, decision.apply_result = applied, result
    decision.save(update_fields=["applied", "apply_result"])
    _log_decision(actor, rec, decision, "decision.apply", None, {"applied": applied, "result": result})
