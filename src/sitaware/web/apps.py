from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "sitaware.web"
    label = "web"
    verbose_name = "Web pages"

    def ready(self) -> None:
        from sitaware.web import basemap  # noqa: F401 (registers the SITAWARE_BASEMAP system check)
