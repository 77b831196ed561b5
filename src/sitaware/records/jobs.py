"""Import and export jobs: creating them, running them (in a task worker or in the foreground), their tasks.

A job row is the user's view of the work: status, progress, counts and the first row errors. The work
itself goes through the records services (bulk_upsert, update_record, scoped reads); this module only
feeds them and keeps the job row current.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Sensitivity
from sitaware.core.context import current_request_id, request_context
from sitaware.core.models import Unit
from sitaware.core.scope import Actor, actor_for, restrict
from sitaware.records import exporters, services, vocab
from sitaware.records.bulk import bulk_upsert
from sitaware.records.errors import RecordValidationError, VersionConflict
from sitaware.records.importers import IMPORTERS, ImportFileError, ImportOptions
from sitaware.records.models import ExportJob, ImportJob, JobStatus, Record

BATCH_SIZE = 1000
MAX_STORED_ERRORS = 1000
CHUNK = 1024 * 1024
# Formats that carry no sensitivity of their own: public datasets, public unless told otherwise.
PUBLIC_DATASETS = ("ucdp", "acled")

Progress = Callable[[int, int | None], None]


def _invalid(field_name: str, message: str) -> RecordValidationError:
    return RecordValidationError([{"field": field_name, "message": message}])


# ---------------------------------------------------------------- files


class UploadTooLarge(ValueError):
    pass


def data_path(*parts: str) -> Path:
    path = Path(settings.DATA_DIR).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(chunks: Iterable[bytes], filename: str, *, max_bytes: int | None = None) -> tuple[Path, str]:
    """Keep an uploaded file under DATA_DIR/uploads, named by its SHA-256; returns (path, sha256)."""
    limit = settings.SITAWARE_UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    folder = data_path("uploads")
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False)
    try:
        with handle:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"the file is larger than the {limit:,} bytes allowed "
                                         "(SITAWARE_UPLOAD_MAX_BYTES); split it into smaller files")
                digest.update(chunk)
                handle.write(chunk)
        sha256 = digest.hexdigest()
        suffix = "".join(Path(filename).suffixes[-1:]).lower()[:12]
        target = folder / f"{sha256}{suffix}"
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target, sha256


def store_file(path: Path, *, max_bytes: int | None = None) -> tuple[Path, str]:
    """Keep a local file (the console's import) the same way as an upload."""
    with Path(path).open("rb") as source:
        return store_upload(iter(lambda: source.read(CHUNK), b""), Path(path).name, max_bytes=max_bytes)


# ---------------------------------------------------------------- imports


def import_options(actor: Actor, format: str, *, sensitivity: Any = None, status: str | None = None,
                   reporting_unit: str | None = None) -> dict[str, Any]:
    """Check what an import asks for before any work starts; returns the options as stored on the job."""
    actor.require("import")
    # bulk_upsert writes as a record creator; say so now rather than fail the job later.
    actor.require("create")
    if actor.organisation_id is None:
        raise PermissionDenied("records belong to an organisation; this account has none")
    if format not in IMPORTERS:
        raise _invalid("format", f"unknown import format {format!r}; use one of {', '.join(IMPORTERS)}")
    level = None
    if sensitivity not in (None, ""):
        try:
            level = Sensitivity.parse(sensitivity)
        except ValueError as exc:
            raise _invalid("sensitivity", str(exc)) from None
        if level > actor.clearance:
            raise _invalid("sensitivity", "above your clearance: you could not read the records back")
    if status not in (None, ""):
        if status not in vocab.STATUSES:
            raise _invalid("status", f"unknown status {status!r}; use one of {', '.join(vocab.STATUSES)}")
        services._initial_status_permission(actor, status)
    else:
        status = None
    if reporting_unit:
        if not Unit.objects.filter(organisation_id=actor.organisation_id, code=reporting_unit).exists():
            raise _invalid("reporting_unit", f"no unit {reporting_unit!r} in your organisation")
    return {"sensitivity": level, "status": status, "reporting_unit": reporting_unit or None}


def create_import_job(actor: Actor, *, format: str, filename: str, path: Path, sha256: str,
                      options: dict[str, Any]) -> ImportJob:
    if options.get("sensitivity") is not None:
        level = options["sensitivity"]
    elif format in PUBLIC_DATASETS:
        level = Sensitivity.PUBLIC
    else:
        # Rows may be up to the importer's clearance, and the error report quotes them.
        level = actor.clearance
    return ImportJob.objects.create(
        format=format,
        filename=Path(filename).name[:255],
        path=str(path),
        sha256=sha256,
        options={**options, "request_id": current_request_id()},
        organisation_id=actor.organisation_id,
        sensitivity=level,
        created_by_id=actor.user_id,
    )


def enqueue_import(job: ImportJob) -> None:
    import_records_task.enqueue(str(job.id))


@dataclass
class ImportTally:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_rows: set[int] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add_errors(self, problems: Iterable[dict[str, Any]]) -> None:
        for problem in problems:
            if problem.get("row") is not None:
                self.error_rows.add(problem["row"])
            if len(self.errors) < MAX_STORED_ERRORS:
                self.errors.append(problem)

    def fields(self) -> dict[str, Any]:
        return {
            "processed_rows": self.processed,
            "created_count": self.created,
            "updated_count": self.updated,
            "unchanged_count": self.unchanged,
            "error_count": len(self.error_rows),
            "errors": self.errors,
        }


def run_import(job_id: uuid.UUID | str, *, progress: Progress | None = None) -> ImportJob:
    """Run one import job to the end. Bad rows are counted and reported; only an unreadable file fails it."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        return job
    started = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=started)
    tally = ImportTally()
    notes: list[str] = []
    with request_context(job.options.get("request_id") or f"import-{job.pk.hex}"):
        try:
            actor = actor_for(job.created_by)
            actor.require("import")
            importer = IMPORTERS[job.format](Path(job.path), ImportOptions(
                taxonomy=services.taxonomies().get(settings.SITAWARE_DEFAULT_TAXONOMY),
                sensitivity=job.options.get("sensitivity"),
                status=job.options.get("status"),
                reporting_unit=job.options.get("reporting_unit"),
            ))
            total = importer.count()
            ImportJob.objects.filter(pk=job.pk).update(total_rows=total)
            if progress:
                progress(0, total)
            _import_rows(actor, job, importer.rows(), tally, total, progress)
            notes = importer.notes
        except (ImportFileError, PermissionDenied) as exc:
            problem = exc.as_problem() if isinstance(exc, ImportFileError) else {
                "row": None, "field": "file", "message": str(exc)}
            tally.errors.insert(0, problem)
            _finish_import(job, tally, JobStatus.FAILED, str(exc))
            return ImportJob.objects.get(pk=job.pk)
        except Exception as exc:
            _finish_import(job, tally, JobStatus.FAILED,
                           f"the import stopped unexpectedly after {tally.processed} rows: {exc}")
            raise
    summary = (f"{tally.created} created, {tally.updated} updated, {tally.unchanged} unchanged, "
               f"{len(tally.error_rows)} rows with errors")
    _finish_import(job, tally, JobStatus.DONE, "; ".join([summary, *notes]))
    return ImportJob.objects.get(pk=job.pk)


def _finish_import(job: ImportJob, tally: ImportTally, status: str, message: str) -> None:
    fields = tally.fields()
    if status == JobStatus.DONE:
        # Every row was seen: the counter meets the total even if counting and reading disagreed.
        fields["total_rows"] = tally.processed
    ImportJob.objects.filter(pk=job.pk).update(status=status, message=message, finished_at=timezone.now(),
                                               **fields)


def _import_rows(actor: Actor, job: ImportJob, rows: Iterable, tally: ImportTally, total: int | None,
                 progress: Progress | None) -> None:
    batch: list[tuple[int, dict[str, Any]]] = []
    reason = f"import {job.pk}"

    def flush() -> None:
        if batch:
            _upsert(actor, batch, tally, reason)
            batch.clear()
        ImportJob.objects.filter(pk=job.pk).update(**tally.fields())
        if progress:
            progress(tally.processed, total)

    for parsed in rows:
        tally.processed += 1
        if parsed.problems:
            tally.add_errors(parsed.problems)
        else:
            batch.append((parsed.row, parsed.payload))
        if tally.processed % BATCH_SIZE == 0:
            flush()
    flush()


def _upsert(actor: Actor, batch: list[tuple[int, dict[str, Any]]], tally: ImportTally, reason: str) -> None:
    """One batch: rows naming a record by its own id go through update_record; the rest through bulk_upsert."""
    for_bulk, for_update = _route(actor, batch, tally)
    for row, record, payload in for_update:
        _update_one(actor, row, record, payload, tally, reason)
    if not for_bulk:
        return
    try:
        result = bulk_upsert(actor, for_bulk, reason=reason)
    except IntegrityError:
        # Someone wrote the same ids meanwhile: retry row by row so only the clashing rows fail.
        for item in for_bulk:
            try:
                single = bulk_upsert(actor, [item], reason=reason)
            except IntegrityError:
                tally.add_errors([{"row": item[0], "field": "id",
                                   "message": "clashes with a record written at the same time; import it again"}])
                continue
            _count(tally, single)
        return
    _count(tally, result)


def _count(tally: ImportTally, result: Any) -> None:
    tally.created += result.created
    tally.updated += result.updated
    tally.unchanged += result.unchanged
    tally.add_errors(result.errors)


def _route(actor: Actor, batch: list[tuple[int, dict[str, Any]]], tally: ImportTally):
    """Split a batch, and fill the fields a row does not give from the record it will update."""
    keys = {(p.get("external_source") or "", p["external_id"]) for _, p in batch if p.get("external_id")}
    visible = restrict(Record.objects.filter(organisation_id=actor.organisation_id), actor)
    by_key: dict[tuple[str, str], Record] = {}
    hidden_keys: set[tuple[str, str]] = set()
    if keys:
        wanted = Record.objects.filter(organisation_id=actor.organisation_id,
                                       external_source__in={k[0] for k in keys},
                                       external_id__in={k[1] for k in keys}).exclude(external_id="")
        seen_ids = set(visible.filter(pk__in=wanted.values("pk")).values_list("pk", flat=True))
        for record in wanted.select_related("organisation", "reporting_unit"):
            key = (record.external_source, record.external_id)
            if record.pk in seen_ids:
                by_key[key] = record
            else:
                hidden_keys.add(key)
    own_ids = []
    for _, payload in batch:
        if payload.get("id") and not payload.get("external_id"):
            try:
                own_ids.append(uuid.UUID(str(payload["id"])))
            except ValueError:
                continue
    by_id = {r.pk: r for r in visible.filter(pk__in=own_ids).select_related("organisation", "reporting_unit")}

    for_bulk: list[tuple[int, dict[str, Any]]] = []
    for_update: list[tuple[int, Record, dict[str, Any]]] = []
    ids_in_batch: set[str] = set()
    for row, payload in batch:
        if payload.get("external_id"):
            key = (payload.get("external_source") or "", payload["external_id"])
            if key in hidden_keys:
                tally.add_errors([{"row": row, "field": "external_id",
                                   "message": "a record with this external id exists that you may not change"}])
                continue
            current = by_key.get(key)
            if current is not None:
                _fill_from(current, payload)
            for_bulk.append((row, payload))
            continue
        record_id = str(payload.get("id") or "").lower()
        if record_id:
            if record_id in ids_in_batch:
                tally.add_errors([{"row": row, "field": "id", "message": "the same id appears twice in this file"}])
                continue
            ids_in_batch.add(record_id)
            try:
                current = by_id.get(uuid.UUID(record_id))
            except ValueError:
                current = None
            if current is not None:
                for_update.append((row, current, payload))
                continue
        for_bulk.append((row, payload))
    return for_bulk, for_update


def _fill_from(record: Record, payload: dict[str, Any]) -> None:
    """A field the file does not give keeps its current value instead of falling back to the default."""
    snapshot = services.snapshot_of(record)
    for name in services.EDITABLE_FIELDS:
        if name not in payload:
            payload[name] = snapshot[name]
    payload.setdefault("reporting_unit", snapshot["reporting_unit"])


def _update_one(actor: Actor, row: int, record: Record, payload: dict[str, Any], tally: ImportTally,
                reason: str) -> None:
    changes = {k: v for k, v in payload.items() if k in services.EDITABLE_FIELDS}
    try:
        after = services.update_record(actor, record.pk,
                                       {"base_version": record.version, "reason": reason, **changes})
    except RecordValidationError as exc:
        tally.add_errors({"row": row, **p} for p in exc.problems)
        return
    except (PermissionDenied, VersionConflict) as exc:
        tally.add_errors([{"row": row, "field": "record", "message": str(exc)}])
        return
    if after.version > record.version:
        tally.updated += 1
    else:
        tally.unchanged += 1


@task()
def import_records_task(job_id: str) -> dict[str, Any]:
    """Task-worker entry point for an import job."""
    job = run_import(job_id)
    return {"status": job.status, "processed_rows": job.processed_rows, "error_count": job.error_count}


# ---------------------------------------------------------------- exports


def create_export_job(actor: Actor, *, format: str, filters: dict[str, Any] | None, recipient: str,
                      purpose: str, agreement: str | None = None) -> ExportJob:
    """Check and record an export request: the job row and its `export.create` change-log entry commit together."""
    plan = exporters.plan_export(actor, format=format, filters=filters, recipient=recipient, purpose=purpose,
                                 agreement=agreement)
    level = actor.clearance
    if plan.agreement is not None:
        level = min(level, plan.agreement.max_sensitivity)
    if plan.filters.sensitivities:
        level = min(level, max(plan.filters.sensitivities))
    with transaction.atomic():
        job = ExportJob.objects.create(
            format=plan.format,
            filters=plan.filters.as_dict(),
            recipient=plan.recipient,
            purpose=plan.purpose,
            agreement=plan.agreement,
            organisation_id=actor.organisation_id,
            sensitivity=level,
            created_by_id=actor.user_id,
        )
        changelog.append(
            [PendingEntry(action="export.create", object_type="export", object_id=str(job.pk),
                          after={**plan.describe(), "request_id": current_request_id()},
                          organisation_id=actor.organisation_id, sensitivity=level)],
            actor_id=actor.user_id, actor_label=actor.label,
        )
    return job


def enqueue_export(job: ExportJob) -> None:
    export_records_task.enqueue(str(job.pk))


def _plan_for(actor: Actor, job: ExportJob) -> exporters.ExportPlan:
    """The stored request, checked again: rights and agreements may have changed since it was made."""
    return exporters.plan_export(actor, format=job.format, filters=job.filters, recipient=job.recipient,
                                 purpose=job.purpose,
                                 agreement=job.agreement.reference if job.agreement else None)


def run_export(job_id: uuid.UUID | str, *, output: Path | None = None,
               progress: Progress | None = None) -> ExportJob:
    """Write the export file (to `output`, or DATA_DIR/exports) and log what left: row count and SHA-256."""
    job = ExportJob.objects.select_related("created_by", "agreement").get(pk=job_id)
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        return job
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    target = Path(output) if output else data_path("exports") / f"{job.pk}.{exporters.EXTENSIONS[job.format]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with request_context(f"export-{job.pk.hex}"):
        try:
            actor = actor_for(job.created_by)
            plan = _plan_for(actor, job)
            qs = exporters.export_queryset(actor, plan)
            total = qs.count()
            ExportJob.objects.filter(pk=job.pk).update(total_rows=total)
            if progress:
                progress(0, total)
            count, sha256 = _write_export(job, actor, plan, qs, target, total, progress)
        except (RecordValidationError, PermissionDenied) as exc:
            _fail_export(job, f"the export was refused: {exc}")
            return ExportJob.objects.get(pk=job.pk)
        except Exception as exc:
            _fail_export(job, f"the export stopped unexpectedly: {exc}")
            raise
        finished = timezone.now()
        with transaction.atomic():
            ExportJob.objects.filter(pk=job.pk).update(
                status=JobStatus.DONE, row_count=count, path=str(target.resolve()), sha256=sha256,
                finished_at=finished, message=f"{count} records written")
            changelog.append(
                [PendingEntry(action="export.finish", object_type="export", object_id=str(job.pk),
                              after={"row_count": count, "sha256": sha256, "format": job.format},
                              organisation_id=job.organisation_id, sensitivity=job.sensitivity)],
                actor_id=actor.user_id, actor_label=actor.label, at=finished,
            )
    return ExportJob.objects.get(pk=job.pk)


def _write_export(job: ExportJob, actor: Actor, plan: exporters.ExportPlan, qs, target: Path, total: int,
                  progress: Progress | None) -> tuple[int, str]:
    about = {"id": str(job.pk), **plan.describe(), "exported_by": actor.label,
             "created_at": job.created_at.isoformat()}
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=target.parent,
                                         prefix=".export-", delete=False)
    count = 0
    try:
        with handle:
            rows = exporters.export_rows(actor, plan, qs.iterator(chunk_size=2000))
            for _ in exporters.write(job.format, rows, handle, about=about):
                count += 1
                if count % BATCH_SIZE == 0:
                    ExportJob.objects.filter(pk=job.pk).update(row_count=count)
                    if progress:
                        progress(count, total)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    if progress:
        progress(count, total)
    digest = hashlib.sha256()
    with target.open("rb") as written:
        for chunk in iter(lambda: written.read(CHUNK), b""):
            digest.update(chunk)
    return count, digest.hexdigest()


def _fail_export(job: ExportJob, message: str) -> None:
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, message=message,
                                               finished_at=timezone.now())


@task()
def export_records_task(job_id: str) -> dict[str, Any]:
    """Task-worker entry point for an export job."""
    job = run_export(job_id)
    return {"status": job.status, "row_count": job.row_count}


def actor_by_username(username: str) -> Actor:
    """The console's `--as USERNAME`: the job runs with that user's rights and is logged under their name."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).select_related("membership").first()
    if user is None:
        raise PermissionDenied(f"no user {username!r}")
    return actor_for(user)
