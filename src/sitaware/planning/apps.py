from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlanningConfig(AppConfig):
    name = "sitaware.planning"
    label = "planning"
    verbose_name = _("Patrol planning")

    def ready(self) -> None:
        # The planner is one built-in AI component: declared here so oversight registers it without importing
        # us; importing component registers the applier that approves a plan on an accepted decision.
        from sitaware.oversight.services import register_builtin
        from sitaware.planning import component

        register_builtin(component.builtin_spec)
