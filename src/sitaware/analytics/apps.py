from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "sitaware.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        # The risk map is a built-in AI component: declared here so oversight registers it without importing us,
        # and importing services registers how an accepted risk map is applied.
        from sitaware.analytics import services
        from sitaware.oversight.services import register_builtin

        register_builtin(services.builtin_spec)
