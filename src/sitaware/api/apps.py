from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "sitaware.api"
    label = "api"
    verbose_name = "HTTP API"
