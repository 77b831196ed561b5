"""Routes for the caller (me, tokens) and the change-log feed. They live in the api app, which may depend on
every app, because the feed redacts record entries with the records app's rules (core must not import records)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import AwareDatetime, ConfigDict

from sitaware.api.auth import SESSION_AUTH, request_actor
from sitaware.api.errors import BadInput, reject_unknown_params
from sitaware.core.choices import Sensitivity
from sitaware.core.models import ApiToken, ChangeEntry, Membership
from sitaware.core.scope import Actor
from sitaware.core.services import changes_for, create_token, revoke_token, tokens_of
from sitaware.records import services as records

router = Router()

CHANGES_LIMIT_MAX = 1000


# ---------------------------------------------------------------- change log


class ChangesQuery(Schema):
    after: int = Field(0, ge=0, description="The last seq you have; 0 for the start")
    limit: int = Field(100, ge=1, le=CHANGES_LIMIT_MAX)


class ChangeOut(Schema):
    seq: int
    origin_site: str
    origin_seq: int
    at: str
    actor: str
    request_id: str
    action: str
    object_type: str
    object_id: str
    before: Any = None
    after: Any = None
    extra: dict[str, Any] = {}
    withheld: list[str] = Field([], description="Fields (or 'before'/'after' whole) withheld from you")
    hash: str
    prev_hash: str


class ChangePage(Schema):
    items: list[ChangeOut]
    next_after: int = Field(..., description="Pass as `after` to continue; unchanged when nothing is new")


class _RecordEntryRedaction:
    """What of each record entry the actor may not read: source identity without need to know, fields an
    agreement withholds, and whole states written at a sensitivity above what they may see now."""

    def __init__(self, actor: Actor, entries: list[ChangeEntry]) -> None:
        self.actor = actor
        self.redactor = records.Redactor.for_actor(actor)
        ids = {e.record_id for e in entries if e.record_id is not None}
        rows = (
            records.scoped_records(actor)
            .filter(id__in=ids)
            .only("id", "organisation_id", "created_by_id", "reporting_unit_id", "sensitivity")
            if ids and not actor.system
            else []
        )
        self.records = {r.id: r for r in rows}

    def _ceiling(self, record) -> int:
        if record.organisation_id == self.actor.organisation_id:
            return self.actor.clearance
        agreement = self.redactor.agreement_for(record)
        return min(agreement.max_sensitivity, self.actor.clearance) if agreement else -1

    def apply(self, entry: ChangeEntry, data: dict[str, Any]) -> tuple[Any, Any, list[str]]:
        before, after = data.get("before"), data.get("after")
        if entry.record_id is None or self.actor.system:
            return before, after, []
        record = self.records.get(entry.record_id)
        # An entry whose record cannot be looked at again shows nothing of its content (fail closed).
        if record is None or entry.sensitivity > self._ceiling(record):
            return None, None, ["before", "after"]
        hidden = self.redactor.hidden_fields(record)
        withheld: list[str] = []
        for state in (before, after):
            if isinstance(state, dict):
                for name in hidden:
                    if name in state:
                        state[name] = None
                        if name not in withheld:
                            withheld.append(name)
        return before, after, withheld


@router.get("/changes", response={200: ChangePage}, tags=["changes"], summary="The change log from a cursor")
def list_changes(request: HttpRequest, params: Query[ChangesQuery]):
    """Entries after `after`, in order, narrowed to your scope: entries about records you may see, and
    (for oversight officers and administrators) your organisation's other entries."""
    reject_unknown_params(request, ChangesQuery.model_fields)
    actor = request_actor(request)
    entries = changes_for(actor, after=params.after, limit=params.limit)
    redaction = _RecordEntryRedaction(actor, entries)
    items = []
    for entry in entries:
        data = entry.payload
        before, after, withheld = redaction.apply(entry, data)
        items.append(
            {
                "seq": entry.seq,
                "origin_site": entry.origin_site,
                "origin_seq": entry.origin_seq,
                "at": entry.at.astimezone(dt.UTC).isoformat(),
                "actor": entry.actor_label,
                "request_id": entry.request_id,
                "action": entry.action,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "before": before,
                "after": after,
                "extra": data.get("extra") or {},
                "withheld": withheld,
                "hash": entry.hash,
                "prev_hash": entry.prev_hash,
            }
        )
    return {"items": items, "next_after": entries[-1].seq if entries else params.after}


# ---------------------------------------------------------------- current user


class NamedOut(Schema):
    code: str
    name: str


class ClearanceOut(Schema):
    level: int
    name: str


class MeOut(Schema):
    username: str
    organisation: NamedOut
    unit: NamedOut | None
    role: str
    clearance: ClearanceOut
    actions: list[str] = Field(..., description="What your role allows, e.g. create, review, publish")


@router.get("/me", response={200: MeOut}, tags=["me"], summary="Who you are and what you may do")
def me(request: HttpRequest):
    """Also sets the csrftoken cookie for a browser session, to send back as X-CSRFToken on writes."""
    actor = request_actor(request)
    membership = Membership.objects.select_related("organisation", "unit").get(user_id=actor.user_id)
    if not request.headers.get("Authorization"):
        get_token(request)
    unit = membership.unit
    return {
        "username": actor.username,
        "organisation": {"code": membership.organisation.code, "name": membership.organisation.name},
        "unit": {"code": unit.code, "name": unit.name} if unit else None,
        "role": actor.role,
        "clearance": {"level": actor.clearance, "name": Sensitivity.slug(actor.clearance)},
        "actions": sorted(actor.actions),
    }


# ---------------------------------------------------------------- tokens


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(..., min_length=1, max_length=100, description="What the token is for, e.g. 'sensor 12'")
    expires_at: AwareDatetime | None = Field(None, description="When it stops working; ISO 8601 with a zone")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(..., description="The secret's first characters, to recognise it")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked: bool
    active: bool


class NewTokenOut(TokenOut):
    secret: str = Field(..., description="Send as 'Authorization: Bearer <secret>'. Shown this once only.")


class TokenList(Schema):
    items: list[TokenOut]


def _token_out(token: ApiToken, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked": token.revoked,
        "active": not token.revoked and (token.expires_at is None or token.expires_at > now),
    }


@router.post(
    "/tokens",
    response={201: NewTokenOut},
    auth=SESSION_AUTH,
    tags=["tokens"],
    summary="Make an API token for yourself",
    description="Needs a logged-in browser session (and its CSRF token): a token cannot mint more tokens. "
                "The secret is in this answer only; it is stored as a hash.",
)
def make_token(request: HttpRequest, payload: TokenIn):
    request_actor(request)
    now = timezone.now()
    if payload.expires_at is not None and payload.expires_at <= now:
        raise BadInput([{"field": "expires_at", "message": "is in the past; give a future time or leave it out"}])
    secret = create_token(request.auth, payload.name, expires_at=payload.expires_at)
    token = ApiToken.objects.filter(user=request.auth, prefix=secret[:12]).order_by("-pk").first()
    return Status(201, {**_token_out(token, now), "secret": secret})


@router.get("/tokens", response={200: TokenList}, tags=["tokens"], summary="Your API tokens (never the secrets)")
def list_tokens(request: HttpRequest):
    actor = request_actor(request)
    now = timezone.now()
    tokens = tokens_of(actor.user_id)
    return {"items": [_token_out(t, now) for t in tokens]}


class NotFoundOut(Schema):
    detail: str


@router.delete(
    "/tokens/{token_id}",
    response={204: None, 404: NotFoundOut},
    tags=["tokens"],
    summary="Revoke one of your tokens",
    description="It stops working at once. Revoking a revoked token again changes nothing.",
)
def delete_token(request: HttpRequest, token_id: int):
    if not revoke_token(request_actor(request), token_id):
        return Status(404, {"detail": f"you have no token {token_id}"})
    return Status(204, None)
