"""The HTTP API, assembled from the routers the apps expose."""

from ninja import NinjaAPI

api = NinjaAPI(title="sitaware API", version="1", urls_namespace="api")
