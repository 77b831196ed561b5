from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "sitaware.web"
    label = "web"
    verbose_name = "Web pages"
