"""Intake endpoints for machines and field clients (mounted at /intake/). People use the API (/api/v1/ingest)."""

from django.urls import path

from sitaware.ingest import openrosa, webhooks

app_name = "ingest"
urlpatterns: list = [
    path("openrosa/formList", openrosa.form_list, name="openrosa-formlist"),
    path("openrosa/forms/<str:form_id>.xml", openrosa.form_download, name="openrosa-form"),
    path("openrosa/submission", openrosa.submission, name="openrosa-submission"),
    # ODK Central-style token URLs: the token is the credential, for devices set up by QR code.
    path("openrosa/key/<str:key>/formList", openrosa.form_list, name="openrosa-key-formlist"),
    path("openrosa/key/<str:key>/forms/<str:form_id>.xml", openrosa.form_download, name="openrosa-key-form"),
    path("openrosa/key/<str:key>/submission", openrosa.submission, name="openrosa-key-submission"),
    path("sms/<uuid:source_id>/", webhooks.sms, name="sms"),
]
