"""Scope: the one place that narrows a read to what a user may see, and decides what they may do.

Every list, detail, count, export and change-log read goes through `restrict`. A model takes part by
declaring `scope_fields` (which of its columns hold organisation, sensitivity, status, unit and author).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone

from sitaware.core.choices import Role
from sitaware.core.models import Membership, SharingAgreement

# What each role may do. Viewing is further narrowed by organisation, clearance and agreements.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.REPORTER: frozenset({"view", "create", "change_own", "submit"}),
    Role.ANALYST: frozenset({"view", "create", "change", "submit", "export", "import", "decide"}),
    Role.SUPERVISOR: frozenset(
        {"view", "create", "change", "submit", "review", "publish", "archive", "export", "import", "decide"}
    ),
    Role.COMMANDER: frozenset({"view", "export", "decide", "publish"}),
    Role.OVERSIGHT: frozenset({"view", "export", "audit", "suspend_component"}),
    Role.ADMINISTRATOR: frozenset(
        {"view", "export", "audit", "manage_users", "manage_components", "suspend_component"}
    ),
}
# Roles that see the change log and oversight material (not only record entries) of their organisation.
AUDIT_ROLES = frozenset({Role.OVERSIGHT, Role.ADMINISTRATOR})
# Who, besides the author and the reporting unit's supervisors, may read source and informant identity.
SOURCE_IDENTITY_ROLES = frozenset({Role.SUPERVISOR})


@dataclass(frozen=True)
class Actor:
    """A user as scope sees them. `system` actors are for migrations and internal jobs only."""

    user_id: int | None
    username: str
    organisation_id: UUID | None
    unit_id: UUID | None
    role: str
    clearance: int
    system: bool = False
    actions: frozenset[str] = field(default_factory=frozenset)

    def can(self, action: str) -> bool:
        return self.system or action in self.actions

    def require(self, action: str) -> None:
        if not self.can(action):
            raise PermissionDenied(f"your role ({self.role}) may not {action.replace('_', ' ')}")

    @property
    def label(self) -> str:
        return self.username


def actor_for(user: Any) -> Actor:
    """The Actor for an authenticated user; users without a membership get no access at all."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied("authentication required")
    try:
        membership = user.membership
    except Membership.DoesNotExist as exc:
        raise PermissionDenied("this account belongs to no organisation; ask an administrator") from exc
    return Actor(
        user_id=user.pk,
        username=user.get_username(),
        organisation_id=membership.organisation_id,
        unit_id=membership.unit_id,
        role=membership.role,
        clearance=int(membership.clearance),
        actions=ROLE_ACTIONS.get(membership.role, frozenset()),
    )


def system_actor(label: str = "system") -> Actor:
    return Actor(None, label, None, None, "system", 3, system=True)


def active_agreements(actor: Actor) -> list[SharingAgreement]:
    return agreements_in_force(actor.organisation_id)


def agreements_in_force(organisation_id: UUID | None) -> list[SharingAgreement]:
    """The sharing agreements through which `organisation_id` sees partners' records now."""
    if organisation_id is None:
        return []
    now = timezone.now()
    return list(
        SharingAgreement.objects.filter(recipient_id=organisation_id, active=True, valid_from__lte=now)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("pk")
    )


def agreements_fingerprint(organisation_id: UUID | None) -> str:
    """A digest of the terms of the sharing agreements in force for a recipient organisation: it changes when
    an agreement is made, changed, ended or expires, i.e. whenever what the organisation sees of its partners
    may have changed without any record changing (figures computed over it must then be recomputed)."""
    terms = [[str(a.pk), str(a.provider_id), a.max_sensitivity, sorted(a.statuses or []),
              sorted(a.redacted_fields or [])] for a in agreements_in_force(organisation_id)]
    if not terms:
        return ""  # no partner: the same as before agreements were kept track of
    return hashlib.sha256(json.dumps(terms, separators=(",", ":")).encode()).hexdigest()


def _fields(model: type) -> dict[str, str | None]:
    declared = getattr(model, "scope_fields", None)
    if declared is None:
        raise TypeError(f"{model.__name__} declares no scope_fields and cannot be read through scope")
    return {
        "organisation": declared.get("organisation", "organisation"),
        "sensitivity": declared.get("sensitivity", "sensitivity"),
        "status": declared.get("status"),
        "unit": declared.get("unit"),
        "author": declared.get("author"),
        "audit_only": declared.get("audit_only"),
    }


def visibility_q(model: type, actor: Actor, agreements: list[SharingAgreement] | None = None, *,
                 authored: bool = True) -> Q:
    """The WHERE clause for what `actor` may see of `model`. Deny by default: no rule, no row.

    `authored=False` leaves out what the actor sees only because they wrote it, so the clause is the same for
    everyone of one `scope_group`; `authored_q` is that part, and the two together are the whole rule."""
    if actor.system:
        return Q()
    if not actor.can("view") or actor.organisation_id is None:
        return Q(pk__in=[])
    f = _fields(model)
    org, sens, status, unit, author = f["organisation"], f["sensitivity"], f["status"], f["unit"], f["author"]

    own = Q(**{org: actor.organisation_id, f"{sens}__lte": actor.clearance})
    if f["audit_only"] and actor.role not in AUDIT_ROLES:
        return Q(pk__in=[])
    if status:
        # Drafts stay with their unit and author until submitted.
        own_unit = Q(**{unit: actor.unit_id}) if unit and actor.unit_id else Q(pk__in=[])
        by_me = Q(**{author: actor.user_id}) if author and authored else Q(pk__in=[])
        not_draft = ~Q(**{status: "draft"})
        if actor.role == Role.REPORTER:
            # Reporters see their unit's work and what their organisation has published.
            own &= own_unit | by_me | Q(**{f"{status}__in": ["published", "archived"]})
        else:
            own &= not_draft | own_unit | by_me
    rule = own
    for agreement in active_agreements(actor) if agreements is None else agreements:
        shared = Q(**{org: agreement.provider_id, f"{sens}__lte": min(agreement.max_sensitivity, actor.clearance)})
        if status:
            shared &= Q(**{f"{status}__in": list(agreement.statuses or ["published"])})
        rule |= shared
    return rule


def scope_group(actor: Actor) -> tuple[Any, ...]:
    """Everything `visibility_q(..., authored=False)` and agreements depend on: actors with the same group see
    the same rows but for the ones they wrote themselves."""
    return (actor.system, actor.organisation_id, actor.unit_id, actor.role, actor.clearance, actor.actions)


def authored_q(model: type, actor: Actor, *, any_author: bool = False) -> Q:
    """What `actor` sees of `model` only as its author (own organisation, within clearance). `any_author`: the
    same for every author of the actor's scope group at once; callers then keep the rows whose author is theirs.
    """
    f = _fields(model)
    if actor.system or not f["status"] or not f["author"] or not actor.can("view") or actor.organisation_id is None:
        return Q(pk__in=[])
    if f["audit_only"] and actor.role not in AUDIT_ROLES:
        return Q(pk__in=[])
    author = {f"{f['author']}__isnull": False} if any_author else {f["author"]: actor.user_id}
    return Q(**{f["organisation"]: actor.organisation_id, f"{f['sensitivity']}__lte": actor.clearance}, **author)


def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
    """Narrow any scoped queryset to what `actor` may see. Counts, maps and exports start here."""
    return queryset.filter(visibility_q(queryset.model, actor))


def agreement_for(actor: Actor, organisation_id: UUID) -> SharingAgreement | None:
    """The agreement through which `actor` sees another organisation's data, if any."""
    for agreement in active_agreements(actor):
        if agreement.provider_id == organisation_id:
            return agreement
    return None
