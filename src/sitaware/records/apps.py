from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "sitaware.records"
    label = "records"
    verbose_name = _("Records: incidents, events and activities")

    def ready(self) -> None:
        from sitaware.core.services import register_record_scope
        from sitaware.records.services import scoped_records

        register_record_scope(scoped_records)
