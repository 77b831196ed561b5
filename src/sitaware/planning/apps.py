from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "sitaware.planning"
    label = "planning"
    verbose_name = "Patrol planning"
