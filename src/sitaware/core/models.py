"""Organisations, units, memberships, sharing agreements, API tokens and the hash-chained change log."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import OrganisationKind, Role, Sensitivity


class Site(models.Model):
    """An installation (HQ or a field post). Writes carry the site they were first made at."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    is_local = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.code


class Organisation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=OrganisationKind.choices)

    def __str__(self) -> str:
        return self.code


class Unit(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="units")
    code = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="unit_code_unique_per_org")]

    def __str__(self) -> str:
        return f"{self.organisation.code}/{self.code}"


class Membership(models.Model):
    """Where a user sits: organisation, unit, role and clearance. No membership, no access."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="members")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    role = models.CharField(max_length=32, choices=Role.choices)
    clearance = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)

    def __str__(self) -> str:
        return f"{self.user} ({self.role}@{self.organisation.code})"


class SharingAgreement(models.Model):
    """An explicit agreement by which one organisation lets another see some of its records."""

    reference = models.CharField(max_length=80, unique=True, help_text=_("The agreement's own reference."))
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="agreements_given")
    recipient = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="agreements_received")
    max_sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.PUBLIC)
    statuses = models.JSONField(default=list, help_text=_("Record statuses shared, e.g. verified, published."))
    redacted_fields = models.JSONField(default=list, help_text=_("Record fields withheld from the recipient."))
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.reference


class ApiToken(models.Model):
    """A machine credential. Only a SHA-256 of the secret is kept; the secret is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)


class ChainHead(models.Model):
    """The tip of this database's change-log chain: locked while an entry is appended."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, primary_key=True)
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)


class ChangeEntry(models.Model):
    """One write, as an append-only, hash-chained entry. `data` keeps the canonical JSON that was hashed."""

    seq = models.BigIntegerField(primary_key=True)
    origin_site = models.CharField(max_length=40)
    origin_seq = models.BigIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    # Copied from the subject so that scope can narrow the log without joining every app's tables.
    record_id = models.UUIDField(null=True, blank=True, db_index=True)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(default=Sensitivity.PUBLIC)
    data = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["origin_site", "origin_seq"], name="change_origin_unique"),
        ]
        indexes = [models.Index(fields=["object_type", "object_id"], name="change_object_idx")]

    @property
    def payload(self) -> dict:
        return json.loads(self.data)


class AccessEvent(models.Model):
    """A read worth knowing about: another organisation's record, or one shown with fields redacted."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    redacted_fields = models.JSONField(default=list)
    agreement = models.ForeignKey(SharingAgreement, null=True, blank=True, on_delete=models.PROTECT)
    request_id = models.CharField(max_length=64, blank=True)


class LoginFailure(models.Model):
    """A failed sign-in, kept only to throttle guessing: who was tried and from where, never the password."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
