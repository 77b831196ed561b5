from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "sitaware.triage"
    label = "triage"
    verbose_name = "Triage"

    def ready(self) -> None:
        # Triage is one built-in AI component (one kill switch for the whole pipeline): declared here so that
        # oversight registers it without importing us; importing services registers its applier.
        from sitaware.oversight.services import register_builtin
        from sitaware.triage import services

        register_builtin(services.builtin_spec)
        from sitaware.triage import jobs

        jobs.connect()  # automatic triage on arrival (see triage/jobs.py)
