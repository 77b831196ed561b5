from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "sitaware.ingest"
    label = "ingest"
    verbose_name = "Intake"
