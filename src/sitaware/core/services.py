"""Public services of the core app: users and roles, API tokens, the change log as others read it."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role, Sensitivity
from sitaware.core.models import ApiToken, ChangeEntry, Membership, Organisation, Unit
from sitaware.core.scope import AUDIT_ROLES, Actor, actor_for, system_actor

__all__ = [
    "Actor",
    "actor_for",
    "authenticate_token",
    "changes_for",
    "create_token",
    "create_user",
    "register_record_scope",
    "set_membership",
    "system_actor",
]

User = get_user_model()
TOKEN_PREFIX = "sat_"  # noqa: S105 - a public marker, not a secret


def _membership_state(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {
        "organisation": membership.organisation.code,
        "unit": membership.unit.code if membership.unit else None,
        "role": membership.role,
        "clearance": Sensitivity.slug(membership.clearance),
    }


def create_user(
    actor: Actor,
    *,
    username: str,
    password: str | None,
    organisation: Organisation,
    role: str,
    clearance: int = Sensitivity.RESTRICTED,
    unit: Unit | None = None,
    email: str = "",
    check_password: bool = True,
) -> Any:
    """Create an account with its membership; logged in the change log like every other write."""
    actor.require("manage_users")
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(Role.values)}")
    if unit is not None and unit.organisation_id != organisation.pk:
        raise ValueError(f"unit {unit.code} does not belong to {organisation.code}")
    if not actor.system and actor.organisation_id != organisation.pk:
        raise ValueError("administrators can only create accounts in their own organisation")
    if User.objects.filter(username=username).exists():
        raise ValueError(f"the username {username!r} is taken")
    if password and check_password:
        validate_password(password)
    with transaction.atomic():
        user = User.objects.create_user(username=username, email=email, password=password or None)
        if not password:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        membership = Membership.objects.create(
            user=user, organisation=organisation, unit=unit, role=role, clearance=int(clearance)
        )
        changelog.append(
            [
                PendingEntry(
                    action="user.create",
                    object_type="user",
                    object_id=str(user.pk),
                    after={"username": username, **(_membership_state(membership) or {})},
                    organisation_id=organisation.pk,
                )
            ],
            actor_id=actor.user_id,
            actor_label=actor.label,
        )
    return user


def set_membership(
    actor: Actor, user: Any, *, role: str | None = None, clearance: int | None = None, unit: Unit | None = None
) -> Membership:
    """Change a user's role, clearance or unit (logged with before and after)."""
    actor.require("manage_users")
    membership = Membership.objects.select_related("organisation", "unit").get(user=user)
    if not actor.system and membership.organisation_id != actor.organisation_id:
        raise ValueError("administrators can only change accounts in their own organisation")
    if role is not None and role not in Role.values:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(Role.values)}")
    before = _membership_state(membership)
    with transaction.atomic():
        if role is not None:
            membership.role = role
        if clearance is not None:
            membership.clearance = int(clearance)
        if unit is not None:
            membership.unit = unit
        membership.save()
        changelog.append(
            [
                PendingEntry(
                    action="user.membership",
                    object_type="user",
                    object_id=str(user.pk),
                    before=before,
                    after=_membership_state(membership),
                    organisation_id=membership.organisation_id,
                )
            ],
            actor_id=actor.user_id,
            actor_label=actor.label,
        )
    return membership


def organisation_units(organisation_id: Any) -> list[tuple[str, str]]:
    """(code, name) of an organisation's units, by code: what forms offer and services check unit codes against."""
    return list(Unit.objects.filter(organisation_id=organisation_id).order_by("code").values_list("code", "name"))


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user: Any, name: str, *, expires_at=None) -> str:
    """Make a token and return its secret: the only time it is ever seen."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[:12], key_hash=_hash_key(secret), expires_at=expires_at
        )
        membership = getattr(user, "membership", None)
        changelog.append(
            [
                PendingEntry(
                    action="token.create",
                    object_type="api_token",
                    object_id=str(token.pk),
                    after={"user": user.get_username(), "name": name, "prefix": token.prefix},
                    organisation_id=membership.organisation_id if membership else None,
                )
            ],
            actor_id=user.pk,
            actor_label=user.get_username(),
        )
    return secret


def authenticate_token(secret: str) -> Any | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user", "user__membership")
        .filter(key_hash=_hash_key(secret), revoked=False)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.expires_at and token.expires_at <= now:
        return None
    # Only touch the row once a minute: a token used by a sensor at 10 Hz must not become a write hot spot.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_token(actor: Actor, token_id: int) -> bool:
    """Revoke one of the actor's own tokens, logged in the change log. False when there is no such token."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user_id=actor.user_id).first()
        if token is None:
            return False
        if token.revoked:
            return True
        token.revoked = True
        token.save(update_fields=["revoked"])
        changelog.append(
            [
                PendingEntry(
                    action="token.revoke",
                    object_type="api_token",
                    object_id=str(token.pk),
                    before={"revoked": False},
                    after={"revoked": True, "user": actor.username, "name": token.name, "prefix": token.prefix},
                    organisation_id=actor.organisation_id,
                )
            ],
            actor_id=actor.user_id,
            actor_label=actor.label,
        )
    return True


def tokens_of(user_id: int | None) -> list[ApiToken]:
    """A user's own tokens, newest first (the secrets were never stored)."""
    return list(ApiToken.objects.filter(user_id=user_id).order_by("-created_at", "-pk"))


# The records app tells core how to find the records an actor may see, so the change log can be
# narrowed to them without core importing records.
_record_scope: Callable[[Actor], QuerySet] | None = None


def register_record_scope(fn: Callable[[Actor], QuerySet]) -> None:
    global _record_scope
    _record_scope = fn


def changes_for(actor: Actor, *, after: int = 0, limit: int = 100) -> list[ChangeEntry]:
    """Change-log entries after a cursor that `actor` may see: record entries for records in scope,
    other entries to their organisation's oversight officers and administrators."""
    qs = ChangeEntry.objects.filter(seq__gt=after).order_by("seq")
    if not actor.system:
        if _record_scope is None:
            raise RuntimeError("records scope not registered")
        visible_records = Q(record_id__isnull=False, record_id__in=_record_scope(actor).values("id"))
        rule = visible_records
        if actor.role in AUDIT_ROLES:
            rule |= Q(
                record_id__isnull=True,
                organisation_id=actor.organisation_id,
                sensitivity__lte=actor.clearance,
            )
        qs = qs.filter(rule)
    return list(qs[: max(1, min(limit, 1000))])
