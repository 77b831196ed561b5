from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OversightConfig(AppConfig):
    name = "sitaware.oversight"
    label = "oversight"
    verbose_name = _("Oversight: AI components, recommendations and decisions")
