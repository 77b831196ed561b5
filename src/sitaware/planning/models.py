"""Patrol plans in the product: what was asked, what was proposed and approved, and what happened."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation, Unit


class PlanRequest(models.Model):
    """The planner's request as validated: enough to re-run the solver and get the same plan (seed, version)."""

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    shift_start = models.DateTimeField()
    shift_end = models.DateTimeField()
    units = models.JSONField(help_text=_("Patrol units: id, unit code, base, mode, speed, crew."))
    cells = models.JSONField(help_text=_("Candidate cells with priority and source (forecast, alert or manual)."))
    constraints = models.JSONField(default=dict)
    travel = models.JSONField(default=dict, blank=True, help_text=_(
        "Travel-time provider: what was asked (spec) and what the plan used (provider, rules, extract SHA-256 or "
        "grid hash). Empty: straight line."))
    solver_version = models.CharField(max_length=100)
    seed = models.IntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)


class PlanStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed, waiting for a decision")
    EDITED = "edited", _("Edited by a planner, waiting for a decision")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    DISPATCHED = "dispatched", _("Dispatched to the units")


class Plan(models.Model):
    """One proposed shift plan and its life: edits, the decision, dispatch, and the execution figures."""

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.OneToOneField(PlanRequest, on_delete=models.PROTECT, related_name="plan")
    recommendation = models.OneToOneField("oversight.Recommendation", on_delete=models.PROTECT,
                                          related_name="patrol_plan")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.PROPOSED)
    version = models.PositiveIntegerField(default=1, help_text=_("Bumped by every edit."))
    feasible = models.BooleanField(default=True)
    violations = models.JSONField(default=list, help_text=_("Independent re-check of the current visits."))
    decisions = models.JSONField(default=dict, help_text=_("Why each cell is in or out."))
    missed = models.JSONField(default=list, help_text=_("Mandatory visits the plan does not make, and why."))
    coverage = models.JSONField(default=dict)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    actual = models.JSONField(null=True, blank=True, help_text=_("Last plan-vs-actual computation."))
    actual_at = models.DateTimeField(null=True, blank=True)
    linked_records = models.JSONField(default=list, help_text=_("Records the patrol units made during the shift."))
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "status"], name="plan_org_status_idx")]


class PlanVisit(models.Model):
    """A visit in the plan's current version (replaced as a whole by an edit or a decider's modification)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="visits")
    patrol = models.CharField(max_length=60, help_text=_("Patrol unit id within the plan."))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField()
    cell = models.CharField(max_length=40)
    latitude = models.FloatField()
    longitude = models.FloatField()
    visit_no = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=12)
    priority = models.FloatField(default=0)
    planned_arrival = models.DateTimeField()
    planned_start = models.DateTimeField()
    planned_departure = models.DateTimeField()

    class Meta:
        ordering = ["patrol", "order"]
        constraints = [models.UniqueConstraint(fields=["plan", "patrol", "order"], name="plan_visit_order_unique")]


class PositionSource(models.TextChoices):
    API = "api", _("Position sent by the unit")
    PATROL_REPORT = "patrol_report", _("Patrol report after the fact")
    COT = "cot", _("Position from a TAK device (Cursor-on-Target)")


class PositionReport(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="positions")
    patrol = models.CharField(max_length=60)
    at = models.DateTimeField()
    latitude = models.FloatField()
    longitude = models.FloatField()
    source = models.CharField(max_length=16, choices=PositionSource.choices)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["plan", "patrol", "at"], name="position_plan_time_idx")]


class VisitOutcome(models.Model):
    """Computed from positions by plan_vs_actual; never entered by hand, always recomputable."""

    visit = models.OneToOneField(PlanVisit, on_delete=models.CASCADE, related_name="outcome")
    status = models.CharField(max_length=8)  # made | late | missed
    first_seen = models.DateTimeField(null=True, blank=True)
    presence_s = models.FloatField(default=0)
    closest_m = models.FloatField(null=True, blank=True)
    delay_s = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)


class TravelDefault(models.Model):
    """The organisation's default travel-time provider, used when a plan request names none (one site serves
    one mission; each organisation of it may keep its own). No row: the site's SITAWARE_PLANNING_TRAVEL, else
    straight line. Set through `services.set_default_travel` (change-logged)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, primary_key=True, related_name="+")
    spec = models.JSONField(help_text=_("Travel-time provider as a plan request's `travel` object, validated."))
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)


class ProposalStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting for the task worker")
    RUNNING = "running", _("Being computed")
    SUCCEEDED = "succeeded", _("Plan proposed")
    FAILED = "failed", _("No plan made")


class ProposalPhase(models.TextChoices):
    CHECKING = "checking", _("Checking the request and preparing the travel times")
    SOLVING = "solving", _("Searching for the best routes")
    STORING = "storing", _("Re-checking the routes and storing the plan")


class PlanProposal(models.Model):
    """A plan asked for in the background (`jobs.py`): checked when asked, solved by the task worker with the
    asker's rights, then a `Plan` like any other. The row is what the asker (and the organisation's other
    planners) follow: status, progress, the plan made, or why none was."""

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    payload = models.JSONField(help_text=_("The request body as checked when asked (the planning API's format)."))
    form = models.JSONField(default=dict, blank=True, help_text=_(
        "The form as typed, when asked from the browser: to show it again if the request must be corrected."))
    status = models.CharField(max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.QUEUED)
    phase = models.CharField(max_length=10, choices=ProposalPhase.choices, blank=True)
    time_budget_s = models.FloatField(help_text=_("The search time asked for, in seconds."))
    task_id = models.CharField(max_length=64, blank=True, help_text=_("The task-queue entry that runs it."))
    request_id = models.CharField(max_length=64, blank=True, help_text=_(
        "The request that asked: the change-log entries of the work done for it name it too."))
    language = models.CharField(max_length=16, blank=True, help_text=_(
        "The asker's language: the worker writes the plan's explanation and any error in it."))
    error = models.TextField(blank=True, help_text=_("Why no plan was made, in words."))
    problems = models.JSONField(default=list, blank=True, help_text=_(
        "When the request was refused: each problem as {field, message}."))
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    solving_at = models.DateTimeField(null=True, blank=True, help_text=_("When the search itself started."))
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "status", "created_at"], name="proposal_org_status_idx")]
