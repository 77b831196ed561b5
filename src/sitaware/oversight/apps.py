from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OversightConfig(AppConfig):
    name = "sitaware.oversight"
    label = "oversight"
    verbose_name = _("Oversight: AI components, recommendations and decisions")

    def ready(self) -> None:
        # Built-in components register how their accepted proposals are applied.
        from sitaware.oversight import suggest_category  # noqa: F401
