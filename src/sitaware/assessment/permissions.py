"""Who may do what in performance assessment. Viewing follows core scope; these are the writes.

Kept beside the app rather than in core's ROLE_ACTIONS because only this app uses them; the roles are
core's. M&E work is done by analysts, approved by supervisors and commanders, decided by leadership.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from sitaware.core.choices import Role
from sitaware.core.scope import Actor

ASSESSMENT_ACTIONS: dict[str, frozenset[str]] = {
    "plan": frozenset({Role.ANALYST, Role.SUPERVISOR, Role.COMMANDER}),  # frameworks, indicators, formulas
    "activate": frozenset({Role.SUPERVISOR, Role.COMMANDER}),  # approve an indicator or a plan version
    "enter_values": frozenset({Role.ANALYST, Role.SUPERVISOR}),  # by hand or from a file
    "compute": frozenset({Role.ANALYST, Role.SUPERVISOR, Role.COMMANDER}),
    "assess": frozenset({Role.ANALYST, Role.SUPERVISOR, Role.COMMANDER}),  # write findings
    "decide": frozenset({Role.COMMANDER, Role.SUPERVISOR}),  # the leadership decision
    "review": frozenset({Role.SUPERVISOR, Role.COMMANDER}),  # quality assurance of values
}


def can(actor: Actor, action: str) -> bool:
    return actor.system or actor.role in ASSESSMENT_ACTIONS[action]


def require(actor: Actor, action: str) -> None:
    if not actor.can("view"):
        raise PermissionDenied(_("your role (%(role)s) may not use performance assessment") % {"role": actor.role})
    if not can(actor, action):
        labels = {
            "plan": _("edit results frameworks"), "activate": _("activate indicators or plans"),
            "enter_values": _("enter indicator values"), "compute": _("compute indicators"),
            "assess": _("write assessments"), "decide": _("record the leadership decision"),
            "review": _("review indicator values"),
        }
        raise PermissionDenied(_("your role (%(role)s) may not %(action)s") % {"role": actor.role,
                                                                             "action": labels[action]})
