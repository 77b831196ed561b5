"""HTTP API for import and export jobs. Both run in the task worker; clients poll the job for progress.

Jobs are narrowed by scope like records: a job is visible to its organisation up to the job's sensitivity.
Only the person who made an export may download its file (it was redacted for them).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest
from django.urls import reverse
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from pydantic import Field

from sitaware.api.auth import request_actor
from sitaware.core.scope import Actor, restrict
from sitaware.records import exporters, jobs
from sitaware.records.importers import FORMATS as IMPORT_FORMATS
from sitaware.records.models import ExportJob, ImportJob, JobStatus

router = Router(tags=["imports and exports"])


class Problem(Schema):
    row: int | None = None
    field: str
    message: str


class Detail(Schema):
    detail: str


class ImportJobOut(Schema):
    id: uuid.UUID
    format: str
    filename: str
    sha256: str
    status: str
    total_rows: int | None
    processed_rows: int
    created: int
    updated: int
    unchanged: int
    error_count: int = Field(description="Rows with at least one problem.")
    errors: list[Problem] = Field(description="The first row problems (at most 1,000): row, field, message.")
    message: str
    options: dict[str, Any]
    created_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ExportIn(Schema):
    format: str = Field(..., description=f"One of {', '.join(exporters.FORMATS)}.")
    filters: dict[str, Any] = Field(default_factory=dict, description=(
        "Record filters: bbox ([min_lon, min_lat, max_lon, max_lat]), since, until, kinds, categories, statuses, "
        "sensitivities, source_types, units, text."))
    recipient: str = Field(..., description="Who the export is for: an organisation code, a unit or a person.")
    purpose: str = Field(..., description="What the export is for.")
    agreement: str | None = Field(None, description="Sharing agreement reference; needed for another organisation.")


class ExportJobOut(Schema):
    id: uuid.UUID
    format: str
    filters: dict[str, Any]
    recipient: str
    purpose: str
    agreement: str | None
    status: str
    row_count: int
    total_rows: int | None = None
    sha256: str
    message: str
    created_by: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    download: str | None = Field(None, description="Where to fetch the file once the job is done.")


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _import_out(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk, "format": job.format, "filename": job.filename, "sha256": job.sha256, "status": job.status,
        "total_rows": job.total_rows, "processed_rows": job.processed_rows, "created": job.created_count,
        "updated": job.updated_count, "unchanged": job.unchanged_count, "error_count": job.error_count,
        "errors": job.errors, "message": job.message,
        "options": {k: v for k, v in job.options.items() if k != "request_id"},
        "created_by": _username(job.created_by), "created_at": job.created_at, "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _export_out(job: ExportJob) -> dict[str, Any]:
    download = None
    if job.status == JobStatus.DONE:
        download = reverse("api:download_export", kwargs={"job_id": job.pk})
    return {
        "id": job.pk, "format": job.format, "filters": job.filters, "recipient": job.recipient,
        "purpose": job.purpose, "agreement": job.agreement.reference if job.agreement else None,
        "status": job.status, "row_count": job.row_count, "total_rows": job.total_rows, "sha256": job.sha256,
        "message": job.message,
        "created_by": _username(job.created_by), "created_at": job.created_at, "finished_at": job.finished_at,
        "download": download,
    }


@router.post("/imports", response={202: ImportJobOut, 413: Detail}, summary="Upload a file to import",
             description=f"Import records from a file in the background; formats: {', '.join(IMPORT_FORMATS)}. "
             "`sensitivity` and `status` apply to rows that do not give their own (UCDP and ACLED rows never "
             "do). Poll `GET /imports/{id}` for progress, counts and row errors.")
def create_import(
    request: HttpRequest,
    file: File[UploadedFile],
    format: Form[str],
    sensitivity: Form[str | None] = None,
    status: Form[str | None] = None,
    reporting_unit: Form[str | None] = None,
):
    actor = request_actor(request)
    options = jobs.import_options(actor, format, sensitivity=sensitivity, status=status,
                                  reporting_unit=reporting_unit)
    limit = settings.SITAWARE_UPLOAD_MAX_BYTES
    if file.size is not None and file.size > limit:
        return Status(413, {"detail": f"the file is {file.size:,} bytes; at most {limit:,} are allowed "
                                      "(SITAWARE_UPLOAD_MAX_BYTES); split it into smaller files"})
    try:
        path, sha256 = jobs.store_upload(file.chunks(), file.name or "upload")
    except jobs.UploadTooLarge as exc:
        return Status(413, {"detail": str(exc)})
    job = jobs.create_import_job(actor, format=format, filename=file.name or "upload", path=path, sha256=sha256,
                                 options=options)
    jobs.enqueue_import(job)
    job.refresh_from_db()
    return Status(202, _import_out(job))


@router.get("/imports/{job_id}", response=ImportJobOut, summary="An import job's progress, counts and errors")
def get_import(request: HttpRequest, job_id: uuid.UUID):
    actor = request_actor(request)
    job = restrict(ImportJob.objects.select_related("created_by"), actor).filter(pk=job_id).first()
    if job is None:
        raise HttpError(404, f"no import job {job_id}")
    return _import_out(job)


@router.post("/exports", response={202: ExportJobOut}, summary="Export records, in the background")
def create_export(request: HttpRequest, payload: ExportIn):
    """Every export records who made it, with what filter, for whom, why and under which agreement."""
    actor = request_actor(request)
    job = jobs.create_export_job(actor, format=payload.format, filters=payload.filters,
                                 recipient=payload.recipient, purpose=payload.purpose, agreement=payload.agreement)
    jobs.enqueue_export(job)
    job.refresh_from_db()
    return Status(202, _export_out(job))


def _visible_export(actor: Actor, job_id: uuid.UUID) -> ExportJob:
    job = (restrict(ExportJob.objects.select_related("created_by", "agreement"), actor)
           .filter(pk=job_id).first())
    if job is None:
        raise HttpError(404, f"no export job {job_id}")
    return job


@router.get("/exports/{job_id}", response=ExportJobOut, summary="An export job's status")
def get_export(request: HttpRequest, job_id: uuid.UUID):
    return _export_out(_visible_export(request_actor(request), job_id))


@router.get("/exports/{job_id}/download", summary="Download a finished export", url_name="download_export",
            response={200: None, 403: Detail, 409: Detail, 410: Detail})
def download_export(request: HttpRequest, job_id: uuid.UUID):
    actor = request_actor(request)
    job = _visible_export(actor, job_id)
    if job.created_by_id != actor.user_id:
        return Status(403, {"detail": "only the person who made an export may download it (it was redacted "
                                      "for them); make your own export"})
    if job.status != JobStatus.DONE:
        return Status(409, {"detail": f"the export is {job.status}; download it when it is done"})
    path = Path(job.path)
    if not path.is_file():
        return Status(410, {"detail": "the export file is no longer on the server; export again"})
    name = f"sitaware-export-{job.pk}.{exporters.EXTENSIONS[job.format]}"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name,
                        content_type=exporters.CONTENT_TYPES[job.format])
