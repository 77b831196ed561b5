"""The category suggester as a registered component: from a record to a recommendation, and from an accepted
recommendation to a new revision of the record (through records.services, by the decider)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied

from sitaware.core.choices import Role
from sitaware.core.scope import Actor
from sitaware.oversight import services
from sitaware.oversight.components import category_suggester as cs
from sitaware.oversight.errors import OversightValidationError
from sitaware.oversight.models import Decision, DecisionOutcome, Recommendation
from sitaware.records.taxonomy import SHIPPED_DIR, TaxonomyError

COMPONENT_KEY = "category-suggester"
PURPOSE = (
    "Propose a category for a record from the taxonomy's English and French keywords found in its title and "
    "narrative, to speed up and harmonise coding. It only proposes: an analyst or supervisor decides."
)
MANUAL_PATH = (
    "choose the category yourself: edit the record and set its kind and category "
    "(PATCH /api/v1/records/{id} with base_version, kind and category)"
)
MODEL_CARD = (
    "Keyword scorer (algorithm " + cs.ALGORITHM_VERSION + "): counts the taxonomy's EN/FR keywords in the title "
    "(weight 2) and narrative (weight 1), phrases weigh more than single words, and proposes the top three "
    "categories with their share of the evidence. No training data; no personal data used. " + cs.LIMITATIONS
)


def taxonomy_file(key: str) -> Path:
    """The file a taxonomy version was loaded from (shipped or configured), for its artefact hash."""
    for folder in (SHIPPED_DIR, *map(Path, settings.SITAWARE_TAXONOMY_DIRS)):
        for path in sorted(folder.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if f"{doc.get('name')}@{doc.get('version')}" == key:
                return path
    raise TaxonomyError(f"no taxonomy file for {key!r}")


@lru_cache(maxsize=8)
def _suggester(key: str, path: str, mtime_ns: int) -> cs.CategorySuggester:
    from sitaware.records.services import taxonomies

    return cs.CategorySuggester(taxonomies().get(key), Path(path).read_bytes())


def suggester_for(key: str) -> cs.CategorySuggester:
    path = taxonomy_file(key)
    return _suggester(key, str(path), path.stat().st_mtime_ns)


def builtin_spec() -> services.ComponentSpec:
    """Registered switched on: it only proposes, and nothing it proposes is applied without a decision.
    An administrator (or an oversight officer) can switch it off at any time; coding by hand goes on."""
    suggester = suggester_for(settings.SITAWARE_DEFAULT_TAXONOMY)
    return services.ComponentSpec(
        key=COMPONENT_KEY,
        name="Category suggester",
        purpose=PURPOSE,
        owner="Information management officer of the police component",
        model_version=suggester.model_version,
        artefact_hash=suggester.artefact_hash,
        decider_roles=[Role.ANALYST.value, Role.SUPERVISOR.value],
        enabled=True,
        manual_path=MANUAL_PATH,
        model_card=MODEL_CARD,
        art5_screen="Not a prohibited practice: categorises event reports, not persons (no profiling, no biometrics).",
        annex_iii="none: no assessment of natural persons",
    )


def _produced(suggester: cs.CategorySuggester, result: cs.Result, current: dict[str, str]) -> services.Produced:
    top = result.top
    suggestions = [
        {
            "category": s.code,
            "kind": s.kind,
            "score": s.score,
            "share": s.share,
            "matched": [{"text": e.text, "keyword": e.keyword, "language": e.language, "field": e.field}
                        for e in s.evidence],
        }
        for s in result.suggestions
    ]
    explanation = result.explanation
    if top is not None and top.code == current["category"]:
        explanation += "\nThe record already has the top category: accepting changes nothing."
    return services.Produced(
        proposal={"category": top.code, "kind": top.kind} if top else None,
        output={"suggestions": suggestions, "current": current},
        uncertainty={
            "method": "share of keyword evidence, discounted when there is little evidence",
            "confidence": result.confidence,
            "uncertainty": round(1.0 - result.confidence, 3),
            "top_share": top.share if top else None,
            "margin": result.margin,
            "evidence": result.total_evidence,
        },
        explanation=explanation,
        limitations=cs.LIMITATIONS,
        model_id=suggester.model_id,
        model_version=suggester.model_version,
        artefact_hash=suggester.artefact_hash,
    )


def suggest_category(actor: Actor, record_id: Any) -> Recommendation:
    """Ask the suggester about one record of the actor's organisation. Stores a recommendation; changes nothing."""
    from sitaware.records.services import Redactor, get_record

    record = get_record(actor, record_id)
    if record.organisation_id != actor.organisation_id:
        raise PermissionDenied("category suggestions are for your own organisation's records")
    hidden = set(Redactor.for_actor(actor).hidden_fields(record))
    # The suggester reads only what the requester may read.
    texts = {name: ("" if name in hidden else getattr(record, name)) for name in ("title", "narrative")}
    suggester = suggester_for(record.taxonomy_version)
    current = {"category": record.category, "kind": record.kind}
    request = services.Request(
        target_type="record",
        target_id=str(record.id),
        target_record=record.id,
        purpose="Suggest a category for this record",
        inputs={"record": str(record.id), "version": record.version, **texts},
        input_refs=[
            {"type": "record", "id": str(record.id), "version": record.version, "fields": sorted(texts)},
            {"type": "taxonomy", "key": record.taxonomy_version},
        ],
        parameters={**suggester.parameters, "base_version": record.version},
        record_ids=[str(record.id)],
    )
    return services.recommend(
        actor, COMPONENT_KEY, request, lambda: _produced(suggester, suggester.suggest(texts), current)
    )


def _check(rec: Recommendation, output: Any) -> dict[str, str]:
    """A proposal or a decider's change must name a category of the record's taxonomy; kind follows from it."""
    if not isinstance(output, dict) or not isinstance(output.get("category"), str):
        raise OversightValidationError([{"field": "category", "message": 'give {"category": "<code>"}'}])
    unknown = sorted(set(output) - {"category", "kind"})
    if unknown:
        raise OversightValidationError([{"field": unknown[0], "message": "only category and kind can be set"}])
    from sitaware.records.services import taxonomies

    key = rec.parameters["taxonomy"]
    category = taxonomies().get(key).get(output["category"])
    if category is None:
        raise OversightValidationError(
            [{"field": "category", "message": f"{output['category']!r} is not a category of {key}"}]
        )
    if output.get("kind") not in (None, category.kind):
        raise OversightValidationError(
            [{"field": "kind", "message": f"category {category.code!r} is a {category.kind}, not a {output['kind']}"}]
        )
    return {"category": category.code, "kind": category.kind}


def _apply(actor: Actor, rec: Recommendation, decision: Decision) -> dict[str, Any]:
    """Set the decided category as a new revision by the decider, based on the version the suggestion read.
    A record changed since raises VersionConflict: never a silent overwrite."""
    from sitaware.records.services import update_record

    base = int(rec.parameters["base_version"])
    verb = "accepted" if decision.outcome == DecisionOutcome.ACCEPT else "accepted with changes"
    record = update_record(actor, rec.target_id, {
        "base_version": base,
        "category": decision.final_output["category"],
        "kind": decision.final_output["kind"],
        "reason": f"{verb} suggestion {rec.id}",
    })
    return {"status": "applied" if record.version > base else "unchanged", "record_id": str(record.id),
            "version": record.version}


services.register_applier(COMPONENT_KEY, services.Applier(check=_check, apply=_apply))
