"""Roles and sensitivity levels: the vocabulary of scope."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    REPORTER = "reporter", _("Reporter")
    ANALYST = "analyst", _("Analyst")
    SUPERVISOR = "supervisor", _("Supervisor")
    COMMANDER = "commander", _("Commander")
    OVERSIGHT = "oversight_officer", _("Oversight officer")
    ADMINISTRATOR = "administrator", _("Administrator")


class Sensitivity(models.IntegerChoices):
    PUBLIC = 0, _("Public")
    RESTRICTED = 1, _("Restricted")
    CONFIDENTIAL = 2, _("Confidential")
    STRICTLY_CONFIDENTIAL = 3, _("Strictly confidential")

    @classmethod
    def parse(cls, value: object) -> int:
        """Accept 2, "2", "confidential" or "Confidential"; raise ValueError naming the choices."""
        if isinstance(value, int) and not isinstance(value, bool) and value in cls.values:
            return value
        text = str(value).strip().lower().replace(" ", "_")
        if text.isdigit() and int(text) in cls.values:
            return int(text)
        for member in cls:
            if member.name.lower() == text:
                return int(member.value)
        names = ", ".join(m.name.lower() for m in cls)
        raise ValueError(f"unknown sensitivity {value!r}; use one of {names}")

    @classmethod
    def slug(cls, value: int) -> str:
        return cls(value).name.lower()


class OrganisationKind(models.TextChoices):
    UN_POLICE = "un_police", _("UN police component")
    HOST_STATE_POLICE = "host_state_police", _("Host-state police")
    UN_MISSION = "un_mission", _("Other mission component")
    PARTNER = "partner", _("Partner organisation")
