"""Early warning in the product: detectors, their runs, alerts as recommendations, CAP 1.2 and the Atom feed."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "sitaware.alerts"
    label = "alerts"
    verbose_name = _("Early warning")

    def ready(self) -> None:
        # The detectors are one built-in AI component (one kill switch for all): declared here so oversight
        # registers it without importing us; importing publish registers the applier run on acceptance.
        from sitaware.alerts import publish, runner  # noqa: F401
        from sitaware.oversight.services import register_builtin

        register_builtin(runner.builtin_spec)
