"""Results frameworks (objectives → outcomes → outputs → indicators), indicator definitions and values with
provenance, compute watermarks and assessments (R-PA-01..03)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation

FREQUENCY_CHOICES = [
    ("weekly", _("Weekly")), ("monthly", _("Monthly")), ("quarterly", _("Quarterly")),
    ("semiannual", _("Every six months")), ("annual", _("Annual")),
]
DIRECTION_CHOICES = [("increase", _("Higher is better")), ("decrease", _("Lower is better"))]
# What a figure can be broken down by. Records carry area, unit and category; victims' sex and age group
# are not recorded on records, so only entered or imported values carry them.
DISAGGREGATION_KEYS = ("area", "unit", "category", "sex", "age_group")
COMPUTABLE_KEYS = ("area", "unit", "category")


class FrameworkStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    SUPERSEDED = "superseded", _("Superseded")


class IndicatorStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")


class DataSource(models.TextChoices):
    COMPUTED = "computed", _("Computed from records")
    ENTERED = "entered", _("Entered by hand")
    IMPORTED = "imported", _("Imported from a file")


class QAStatus(models.TextChoices):
    UNREVIEWED = "unreviewed", _("Not reviewed")
    ACCEPTED = "accepted", _("Accepted")
    QUERIED = "queried", _("Queried")
    REJECTED = "rejected", _("Rejected")


class ResultsFramework(models.Model):
    """One version of an organisation's plan. A new version names the assessment that led to it (R-PA-03)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(max_length=60, help_text=_("Short name shared by every version of the plan."))
    version = models.PositiveIntegerField(default=1)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=FrameworkStatus.choices, default=FrameworkStatus.DRAFT)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    based_on_assessment = models.ForeignKey(
        "Assessment", null=True, blank=True, on_delete=models.PROTECT, related_name="framework_versions",
        help_text=_("The assessment whose decision led to this version."),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code", "version"], name="framework_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class Objective(models.Model):
    framework = models.ForeignKey(ResultsFramework, on_delete=models.PROTECT, related_name="objectives")
    code = models.CharField(max_length=40)
    title = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["framework", "code"], name="objective_code_unique")]


class Outcome(models.Model):
    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="outcomes")
    code = models.CharField(max_length=40)
    title = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["objective", "code"], name="outcome_code_unique")]


class Output(models.Model):
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="outputs")
    code = models.CharField(max_length=40)
    title = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["outcome", "code"], name="output_code_unique")]


class Indicator(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    framework = models.ForeignKey(ResultsFramework, on_delete=models.PROTECT, related_name="indicators")
    output = models.ForeignKey(Output, on_delete=models.PROTECT, related_name="indicators")
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=300)
    definition = models.TextField(blank=True, help_text=_("What is measured, in words."))
    unit = models.CharField(max_length=60, blank=True, help_text=_("e.g. incidents, %, hours"))
    baseline_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    baseline_period_start = models.DateField(null=True, blank=True)
    baseline_period_end = models.DateField(null=True, blank=True)
    baseline_period_label = models.CharField(max_length=12, blank=True)
    target_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    target_period_start = models.DateField(null=True, blank=True)
    target_period_end = models.DateField(null=True, blank=True)
    target_period_label = models.CharField(max_length=12, blank=True)
    direction = models.CharField(max_length=10, choices=DIRECTION_CHOICES, default="increase")
    frequency = models.CharField(max_length=12, choices=FREQUENCY_CHOICES, default="monthly")
    disaggregation = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    data_source = models.CharField(max_length=10, choices=DataSource.choices, default=DataSource.COMPUTED)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    status = models.CharField(max_length=10, choices=IndicatorStatus.choices, default=IndicatorStatus.DRAFT)
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["framework", "code"], name="indicator_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class IndicatorDefinition(models.Model):
    """One version of a computed indicator's formula. Immutable: a change is a new version, so that every
    stored value can be recomputed with the formula that made it (R-PA-02)."""

    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="definitions")
    version = models.PositiveIntegerField()
    formula = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["indicator", "version"]
        constraints = [models.UniqueConstraint(fields=["indicator", "version"], name="definition_version_unique")]

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("indicator definitions are immutable; save a new version instead")
        super().save(*args, **kwargs)


class IndicatorValue(models.Model):
    """A figure for one indicator, period and disaggregation, with where it came from."""

    # Viewers read values of their own organisation up to their clearance; a value's sensitivity is the
    # highest of the records behind it (computed) or the indicator's (entered, imported).
    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="values")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.PUBLIC)
    period_start = models.DateField()
    period_end = models.DateField()
    disaggregation = models.JSONField(default=dict, blank=True)
    # Canonical JSON of `disaggregation`: JSON columns cannot take part in a unique constraint on every backend.
    disaggregation_key = models.CharField(max_length=400, default="{}")
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    empty_reason = models.CharField(max_length=200, blank=True)
    record_count = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=DataSource.choices)
    produced_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    produced_by_label = models.CharField(max_length=150)
    produced_at = models.DateTimeField(default=timezone.now)
    definition = models.ForeignKey(IndicatorDefinition, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="values")
    data_cutoff_seq = models.BigIntegerField(null=True, blank=True,
                                             help_text=_("The change-log entry up to which records were read."))
    qa_status = models.CharField(max_length=10, choices=QAStatus.choices, default=QAStatus.UNREVIEWED)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["indicator", "period_start", "disaggregation_key"]
        constraints = [
            models.UniqueConstraint(fields=["indicator", "period_start", "disaggregation_key"],
                                    name="indicator_value_unique"),
        ]
        indexes = [models.Index(fields=["organisation", "period_start"], name="indicator_value_org_idx")]


class CeilingFigure(models.Model):
    """A computed figure over only the records at or below one sensitivity level: the organisation's figure as
    a viewer of that clearance may see it (for every role but reporters, a viewer's share of an organisation's
    figure is exactly that). Made in the same run as the value it stands for, for indicators shown on a
    dashboard, so that such a viewer reads it instead of waiting for a recomputation; used only while its
    definition and data cut-off are the value's."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="+")
    definition = models.ForeignKey(IndicatorDefinition, on_delete=models.CASCADE, related_name="+")
    ceiling = models.PositiveSmallIntegerField(choices=Sensitivity.choices)
    period_start = models.DateField()
    disaggregation_key = models.CharField(max_length=400, default="{}")
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    empty_reason = models.CharField(max_length=200, blank=True)
    record_count = models.PositiveIntegerField(default=0)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.PUBLIC)
    data_cutoff_seq = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["indicator", "ceiling", "period_start", "disaggregation_key"],
                                    name="ceiling_figure_unique"),
        ]


class ComputeWatermark(models.Model):
    """How far into the change log an indicator's computed values are up to date."""

    indicator = models.OneToOneField(Indicator, on_delete=models.PROTECT, primary_key=True, related_name="+")
    definition = models.ForeignKey(IndicatorDefinition, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField(default=0)
    # The sharing agreements in force when the values were made current (`core.scope.agreements_fingerprint`):
    # partners' records can come into or leave the organisation's view without any record changing.
    sharing = models.CharField(max_length=64, blank=True, default="")
    # The breakdown keys the values were computed with; None for a watermark older than this field (changing the
    # keys then dropped the watermark, so such a watermark always matches the indicator's keys).
    keys = models.JSONField(null=True, blank=True, default=None)
    updated_at = models.DateTimeField(default=timezone.now)


class AssessmentStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DECIDED = "decided", _("Decided")


class Assessment(models.Model):
    """Closes the Plan → Perform → Assess loop for one framework and period (R-PA-03)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    framework = models.ForeignKey(ResultsFramework, on_delete=models.PROTECT, related_name="assessments")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    period_start = models.DateField()
    period_end = models.DateField()
    findings = models.TextField(blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    leadership_decision = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    follow_up_actions = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)


# Dashboards live in their own module of the app; imported here so that Django registers them.
from sitaware.assessment.dashboards.models import Dashboard, DashboardWidget  # noqa: E402,F401
