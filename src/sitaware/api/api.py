"""The HTTP API, assembled from the routers the apps expose (each app owns its `api.py`)."""

from ninja import NinjaAPI

from sitaware.api import errors
from sitaware.api.auth import API_AUTH
from sitaware.assessment.errors import AssessmentError
from sitaware.ingest.errors import ItemAlreadyHandled, ItemNotFound
from sitaware.oversight.errors import OversightError

api = NinjaAPI(
    title="sitaware API",
    version="1",
    description="Records, scope, change log and recommendations. Every read is narrowed to the caller's scope.",
    auth=API_AUTH,
    urls_namespace="api",
)
errors.install(api)
# The apps' own service errors (planning, alerts, analytics extend the oversight ones) say their status and body.
errors.answer_service_errors(api, OversightError, AssessmentError)
errors.answer_with_status(api, ItemNotFound, 404)
errors.answer_with_status(api, ItemAlreadyHandled, 409)

# Routers are added below, one line per app router.
api.add_router("/", "sitaware.oversight.api.router")
api.add_router("/records", "sitaware.records.api.router")
api.add_router("/taxonomies", "sitaware.records.api.taxonomy_router")
api.add_router("/", "sitaware.api.account_and_changes.router")
api.add_router("/", "sitaware.records.api_jobs.router")
api.add_router("/ingest", "sitaware.ingest.api.router")
api.add_router("/assessment", "sitaware.assessment.api.router")
api.add_router("/assessment/dashboards", "sitaware.assessment.dashboards.api.router")
api.add_router("/analytics", "sitaware.analytics.api.router")
api.add_router("/alerts", "sitaware.alerts.api.router")
api.add_router("/triage", "sitaware.triage.api.router")
api.add_router("/planning", "sitaware.planning.api.router")
