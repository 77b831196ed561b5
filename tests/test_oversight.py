"""Recommendation → Decision core (issue 2 point 4): R-AI-03 logging, R-AI-04 human decision gate,
R-AI-05 kill switch, through the services and the category suggester as the real component."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied

KEY = "category-suggester"
ROBBERY_TEXT = {"title": "Homicide à PK5", "narrative": "Un commerçant a été tué par balles, corps retrouvé au marché."}


@pytest.fixture
def builtin(world):
    from sitaware.oversight import services

    return services.ensure_builtin_components()[0]


@pytest.fixture
def record(make_record, builtin):
    """A record coded as armed robbery whose words say homicide: the suggester will propose police.homicide."""
    return make_record("ana", **ROBBERY_TEXT)


def suggest(actor, record):
    from sitaware.oversight.suggest_category import suggest_category

    return suggest_category(actor, record.id)


def entries(action=None):
    from sitaware.core.models import ChangeEntry

    qs = ChangeEntry.objects.order_by("seq")
    return list(qs.filter(action=action) if action else qs)


# ---------------------------------------------------------------- registry and kill switch


def test_builtin_registration_is_idempotent_logged_and_switched_on(world):
    from sitaware.oversight import services
    from sitaware.oversight.models import AIComponent

    services.ensure_builtin_components()
    services.ensure_builtin_components()
    component = AIComponent.objects.get(key=KEY)
    assert component.enabled and component.manual_path and component.decider_roles == ["analyst", "supervisor"]
    assert component.model_version == "sitaware-default@1.0+kw-1" and len(component.artefact_hash) == 64
    registered = entries("component.register")
    assert len([e for e in registered if e.object_id == KEY]) == 1
    # Every built-in component is registered exactly once, however often the call is repeated.
    assert len(registered) == len({e.object_id for e in registered}) == AIComponent.objects.count()


def test_ensuring_builtins_never_switches_back_on_what_an_administrator_switched_off(builtin, actor):
    from sitaware.oversight import services

    services.set_enabled(actor("adam"), KEY, False, reason="under review")
    services.ensure_builtin_components()
    assert services.get_component(actor("ana"), KEY).enabled is False


def _spec(**overrides):
    from sitaware.oversight.services import ComponentSpec

    fields = dict(key="surge-alert", name="Surge alert", purpose="Flag unusual counts", owner="IMO",
                  model_version="1", artefact_hash="a" * 64, decider_roles=["supervisor"])
    fields.update(overrides)
    return ComponentSpec(**fields)


def test_registering_a_component_needs_the_manage_components_action(world, actor):
    from sitaware.oversight import services

    for name in ("ana", "sam", "otto"):
        with pytest.raises(PermissionDenied):
            services.register_component(actor(name), _spec())
    component = services.register_component(actor("adam"), _spec())
    assert component.enabled is False
    entry = entries("component.register")[-1]
    assert entry.actor_label == "adam" and entry.organisation_id == world.unpol.id
    assert json.loads(entry.data)["after"]["key"] == "surge-alert"


def test_registering_refuses_decider_roles_that_may_not_decide(world, actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import OversightValidationError

    with pytest.raises(OversightValidationError) as err:
        services.register_component(actor("adam"), _spec(decider_roles=["oversight_officer"], owner=""))
    fields = {p["field"] for p in err.value.problems}
    assert fields == {"decider_roles", "owner"}


def test_an_oversight_officer_can_switch_a_component_off_but_not_on(builtin, actor):
    from sitaware.oversight import services

    assert services.set_enabled(actor("otto"), KEY, False, reason="complaint received").enabled is False
    with pytest.raises(PermissionDenied):
        services.set_enabled(actor("otto"), KEY, True)
    assert services.set_enabled(actor("adam"), KEY, True, reason="review done").enabled is True
    off, on = entries("component.disable")[-1], entries("component.enable")[-1]
    assert off.actor_label == "otto" and json.loads(off.data)["extra"]["reason"] == "complaint received"
    assert on.actor_label == "adam" and json.loads(on.data)["before"] == {"enabled": False}


@pytest.mark.parametrize("name", ["rita", "ana", "sam", "cora"])
def test_other_roles_cannot_switch_a_component_off(builtin, actor, name):
    from sitaware.oversight import services

    with pytest.raises(PermissionDenied):
        services.set_enabled(actor(name), KEY, False)


def test_a_switched_off_component_refuses_to_produce_and_the_manual_path_still_works(record, actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import ComponentDisabled
    from sitaware.oversight.models import Recommendation
    from sitaware.records import services as records

    services.set_enabled(actor("adam"), KEY, False)
    with pytest.raises(ComponentDisabled) as err:
        suggest(actor("ana"), record)
    assert "switched off" in str(err.value) and "choose the category yourself" in str(err.value)
    assert Recommendation.objects.count() == 0
    updated = records.update_record(actor("ana"), record.id, {"base_version": 1, "category": "police.homicide",
                                                              "reason": "coded by hand"})
    assert updated.version == 2 and updated.category == "police.homicide"


def test_the_kill_switch_is_read_from_the_database_on_every_call(record, actor):
    from sitaware.oversight.errors import ComponentDisabled
    from sitaware.oversight.models import AIComponent

    assert suggest(actor("ana"), record).status == "pending"
    # Another process (another worker, the admin site) flips the row: the very next call sees it.
    AIComponent.objects.filter(key=KEY).update(enabled=False)
    with pytest.raises(ComponentDisabled):
        suggest(actor("ana"), record)


def test_output_of_a_component_switched_off_while_it_ran_is_not_stored(record, actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import ComponentDisabled
    from sitaware.oversight.models import AIComponent, Recommendation

    calls = []

    def produce():
        calls.append(1)
        AIComponent.objects.filter(key=KEY).update(enabled=False)
        return services.Produced({"x": 1}, {}, {"confidence": 0.5}, "because", "none known", "m", "1", "h")

    request = services.Request("record", str(record.id), "test", {"a": 1}, [], {}, record_ids=[str(record.id)])
    with pytest.raises(ComponentDisabled):
        services.recommend(actor("ana"), KEY, request, produce)
    assert calls == [1] and Recommendation.objects.count() == 0


# ---------------------------------------------------------------- R-AI-03: every output logged in full

R_AI_03_FIELDS = [
    "started_at", "ended_at", "component_id", "model_id", "model_version", "artefact_hash", "input_refs",
    "input_hash", "parameters", "output", "uncertainty", "explanation", "limitations", "requested_by_id",
    "requested_role", "purpose", "record_ids", "target_type", "target_id", "organisation_id", "sensitivity",
]


def test_every_r_ai_03_field_of_a_recommendation_is_stored_non_null(record, actor):
    from sitaware.core.canonical import canonical_json
    from sitaware.oversight.models import Recommendation

    rec = Recommendation.objects.get(pk=suggest(actor("ana"), record).pk)
    for name in R_AI_03_FIELDS:
        value = getattr(rec, name)
        assert value is not None and value not in ("", [], {}), name
    assert rec.started_at <= rec.ended_at and rec.started_at.utcoffset() == dt.timedelta(0)
    assert rec.requested_by_id == world_user(record, "ana") and rec.requested_role == "analyst"
    assert rec.record_ids == [str(record.id)] and rec.target_record == record.id
    inputs = {"record": str(record.id), "version": 1, **ROBBERY_TEXT}
    assert rec.input_hash == hashlib.sha256(canonical_json(inputs).encode()).hexdigest()
    assert rec.input_refs[0] == {"type": "record", "id": str(record.id), "version": 1,
                                 "fields": ["narrative", "title"]}
    assert rec.output["proposal"] == {"category": "police.homicide", "kind": "incident"}
    assert 0 < rec.uncertainty["confidence"] < 1 and rec.uncertainty["uncertainty"] > 0
    assert "tué" in rec.explanation and "corps retrouvé" in rec.explanation
    assert rec.model_version == "sitaware-default@1.0+kw-1" and rec.status == "pending"


def world_user(record, name):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=name).pk


def test_the_change_log_keeps_the_recommendation_with_its_record_scope(record, actor):
    from sitaware.core import changelog
    from sitaware.oversight import services

    rec = suggest(actor("ana"), record)
    entry = entries("recommendation.create")[-1]
    assert entry.object_id == str(rec.id) and entry.record_id == record.id
    assert entry.organisation_id == record.organisation_id and entry.sensitivity == record.sensitivity
    assert json.loads(entry.data)["after"] == json.loads(json.dumps(services.log_fields(rec)))
    assert changelog.verify().ok


def test_sensitivity_is_the_highest_of_the_linked_records_and_scope_narrows_by_it(world, make_record, builtin,
                                                                                   actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import RecommendationNotFound

    low = make_record("sam", sensitivity="restricted", status="verified")
    high = make_record("sam", sensitivity="strictly_confidential", status="verified")
    request = services.Request("area", "bangui", "two records together", {"ids": 2}, [], {"window": 7},
                               record_ids=[str(low.id), str(high.id)])
    produced = services.Produced({"alert": True}, {}, {"confidence": 0.9}, "two events", "a test", "m", "1", "h")
    rec = services.recommend(actor("sam"), KEY, request, lambda: produced)
    assert rec.sensitivity == 3
    assert services.get_recommendation(actor("cora"), rec.id).pk == rec.pk  # clearance 3
    with pytest.raises(RecommendationNotFound):
        services.get_recommendation(actor("ana"), rec.id)  # clearance 2


def test_a_requester_must_see_every_linked_record(world, make_record, builtin, actor):
    from sitaware.oversight import services
    from sitaware.records.errors import RecordNotFound

    secret = make_record("sam", sensitivity="strictly_confidential")
    request = services.Request("record", str(secret.id), "probe", {}, [], {}, record_ids=[str(secret.id)])
    with pytest.raises(RecordNotFound):
        services.recommend(actor("ana"), KEY, request, lambda: pytest.fail("must not run"))


def test_it_proposes_nothing_rather_than_guess_and_there_is_nothing_to_decide(make_record, builtin, actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import AlreadyDecided

    record = make_record("ana", title="Weekly note", narrative="Nothing to report in the sector.")
    rec = suggest(actor("ana"), record)
    assert rec.status == "empty" and rec.output["proposal"] is None and rec.output["suggestions"] == []
    with pytest.raises(AlreadyDecided):
        services.decide(actor("sam"), rec.id, "accept", "fine")


# ---------------------------------------------------------------- R-AI-04: nothing applied without a decision


def test_a_recommendation_changes_nothing_by_itself(record, actor):
    from sitaware.records import services as records
    from sitaware.records.models import Record, RecordRevision

    before = records.snapshot_of(Record.objects.get(pk=record.id))
    revisions = RecordRevision.objects.filter(record_id=record.id).count()
    last_seq = entries()[-1].seq
    suggest(actor("ana"), record)
    assert records.snapshot_of(Record.objects.get(pk=record.id)) == before
    assert RecordRevision.objects.filter(record_id=record.id).count() == revisions
    assert [e.action for e in entries() if e.seq > last_seq] == ["recommendation.create"]


OVERSIGHT = Path(__file__).resolve().parents[1] / "src" / "sitaware" / "oversight"
WRITERS = {"update_record", "create_record", "transition", "bulk_upsert", "save", "update", "create", "delete"}


def _calls(tree: ast.AST) -> list[tuple[str, str]]:
    """(enclosing function, called name) for every call in a module."""
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Call):
                    f = node.func
                    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                    found.append((fn.name, name))
    return found


def test_no_code_path_applies_a_proposal_without_a_decision_row(record, actor):
    """Statically: record writers are called only in the applier, the applier only from `_apply`, and `_apply`
    only from `decide`, after the Decision row is created. Dynamically: `_apply` refuses an unsaved decision."""
    from sitaware.oversight import services
    from sitaware.oversight.models import Decision

    record_writes, applier_calls, apply_calls = set(), set(), set()
    for path in OVERSIGHT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for fn, name in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            if name in {"update_record", "create_record", "transition", "bulk_upsert"}:
                record_writes.add((path.name, fn))
            if name == "apply":
                applier_calls.add((path.name, fn))
            if name == "_apply":
                apply_calls.add((path.name, fn))
    assert record_writes == {("suggest_category.py", "_apply")}
    assert applier_calls == {("services.py", "_apply")}
    assert apply_calls == {("services.py", "decide")}
    source = (OVERSIGHT / "services.py").read_text(encoding="utf-8")
    decide_body = source[source.index("def decide("):source.index("def _already(")]
    assert decide_body.index("Decision.objects.create(") < decide_body.index("_apply(actor, rec, decision")

    rec = suggest(actor("ana"), record)
    with pytest.raises(RuntimeError):
        services._apply(actor("ana"), rec, Decision(recommendation=rec, outcome="accept"), None)


def test_accepting_a_suggestion_makes_revision_n_plus_1_authored_by_the_decider(world, make_record, builtin,
                                                                                  actor):
    from sitaware.core import changelog
    from sitaware.oversight import services
    from sitaware.records import services as records

    record = make_record("rita", **ROBBERY_TEXT)  # a reporter's draft; the analyst of her unit decides
    rec = suggest(actor("rita"), record)
    last_seq = entries()[-1].seq
    decision = services.decide(actor("ana"), rec.id, "accept", "the narrative describes a killing")
    assert decision.applied and decision.apply_result["status"] == "applied"
    history = records.revisions(actor("ana"), record.id)
    assert [r["version"] for r in history] == [1, 2]
    assert history[1]["actor"] == "ana" and history[1]["reason"] == f"accepted suggestion {rec.id}"
    assert history[1]["snapshot"]["category"] == "police.homicide" and history[1]["changed_fields"] == ["category"]
    new = entries()
    assert [(e.action, e.actor_label) for e in new if e.seq > last_seq] == [
        ("decision.create", "ana"), ("record.update", "ana"), ("decision.apply", "ana"),
    ]
    assert all(e.record_id == record.id for e in new if e.seq > last_seq)
    rec.refresh_from_db()
    assert rec.status == "accepted"
    assert changelog.verify().ok


def test_a_modified_decision_applies_the_deciders_category(record, actor):
    from sitaware.oversight import services
    from sitaware.records.models import Record

    rec = suggest(actor("ana"), record)
    decision = services.decide(actor("sam"), rec.id, "modify", "an assault that turned fatal",
                               {"category": "police.assault"})
    assert decision.final_output == {"category": "police.assault", "kind": "incident"}
    stored = Record.objects.get(pk=record.id)
    assert stored.category == "police.assault" and stored.version == 2
    rec.refresh_from_db()
    assert rec.status == "modified"


@pytest.mark.parametrize("modified, field", [
    ({"category": "police.unicorn_theft"}, "modified_output.category"),
    ({"category": "police.assault", "kind": "event"}, "modified_output.kind"),
    ({"category": "police.assault", "title": "x"}, "modified_output.title"),
    ({"category": "police.homicide"}, "modified_output"),  # the same as the proposal: that is an accept
    (None, "modified_output"),
])
def test_an_unusable_modification_is_refused_and_nothing_is_recorded(record, actor, modified, field):
    from sitaware.oversight import services
    from sitaware.oversight.errors import OversightValidationError
    from sitaware.oversight.models import Decision

    rec = suggest(actor("ana"), record)
    with pytest.raises(OversightValidationError) as err:
        services.decide(actor("sam"), rec.id, "modify", "because", modified)
    assert err.value.problems[0]["field"] == field
    assert not Decision.objects.exists()


def test_rejecting_changes_nothing_but_is_recorded_and_logged(record, actor):
    from sitaware.oversight import services
    from sitaware.records.models import Record

    rec = suggest(actor("ana"), record)
    decision = services.decide(actor("ana"), rec.id, "reject", "the victim survived; robbery stands")
    assert decision.final_output is None and not decision.applied
    assert Record.objects.get(pk=record.id).version == 1
    entry = entries("decision.create")[-1]
    assert json.loads(entry.data)["after"]["reason"] == "the victim survived; robbery stands"
    assert entries()[-1].action == "decision.create"


@pytest.mark.parametrize("outcome", ["accept", "modify", "reject"])
@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required_for_every_outcome(record, actor, outcome, reason):
    from sitaware.oversight import services
    from sitaware.oversight.errors import OversightValidationError
    from sitaware.oversight.models import Decision

    rec = suggest(actor("ana"), record)
    modified = {"category": "police.assault"} if outcome == "modify" else None
    with pytest.raises(OversightValidationError) as err:
        services.decide(actor("sam"), rec.id, outcome, reason, modified)
    assert [p["field"] for p in err.value.problems] == ["reason"]
    assert not Decision.objects.exists()


def test_an_unknown_outcome_is_refused(record, actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import OversightValidationError

    rec = suggest(actor("ana"), record)
    with pytest.raises(OversightValidationError) as err:
        services.decide(actor("sam"), rec.id, "approve", "ok")
    assert err.value.problems[0]["field"] == "outcome"


def test_a_second_decision_is_refused(record, actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import AlreadyDecided
    from sitaware.oversight.models import Decision

    rec = suggest(actor("ana"), record)
    services.decide(actor("ana"), rec.id, "reject", "not convinced")
    with pytest.raises(AlreadyDecided) as err:
        services.decide(actor("sam"), rec.id, "accept", "I disagree with ana")
    assert "already decided (reject) by ana" in str(err.value)
    assert Decision.objects.count() == 1


@pytest.mark.parametrize("name", ["rita", "cora", "otto", "adam"])
def test_roles_outside_the_deciders_cannot_decide(record, actor, name):
    """rita (reporter) and otto/adam lack the decide action; cora (commander) has it but is not a decider
    of this component. Rejecting applies nothing, so only the decider check can stop them."""
    from sitaware.oversight import services
    from sitaware.oversight.models import Decision

    rec = suggest(actor("ana"), record)
    with pytest.raises(PermissionDenied) as err:
        services.decide(actor(name), rec.id, "reject", "looks wrong")
    assert "decide" in str(err.value) or "decisions on Category suggester are for: analyst, supervisor" in str(
        err.value)
    assert not Decision.objects.exists()


def test_a_decider_who_may_not_change_the_record_cannot_accept(world, make_record, builtin, actor):
    """The change is made with the decider's own rights: a decision that could not be carried out is refused
    whole rather than recorded as an acceptance that changed nothing."""
    from sitaware.oversight import services
    from sitaware.oversight.models import Decision

    services.register_component(actor("adam"), _spec(key="wide-deciders", decider_roles=["commander"], enabled=True))
    services.register_applier("wide-deciders", services._APPLIERS[KEY])
    try:
        record = make_record("ana", **ROBBERY_TEXT)
        inner = suggest(actor("ana"), record)
        request = services.Request("record", str(record.id), "test", {}, [], dict(inner.parameters),
                                   record_ids=[str(record.id)], target_record=record.id)
        produced = services.Produced(inner.output["proposal"], {}, inner.uncertainty, "x", "y", "m", "1", "h")
        rec = services.recommend(actor("ana"), "wide-deciders", request, lambda: produced)
        with pytest.raises(PermissionDenied):
            services.decide(actor("cora"), rec.id, "accept", "go")
        assert not Decision.objects.filter(recommendation=rec).exists()
    finally:
        services._APPLIERS.pop("wide-deciders", None)


# ---------------------------------------------------------------- scope


def test_an_outsider_cannot_see_or_decide_a_recommendation(record, actor):
    from sitaware.oversight import services
    from sitaware.oversight.errors import RecommendationNotFound

    rec = suggest(actor("ana"), record)
    for name in ("hugo", "sara"):
        with pytest.raises(RecommendationNotFound):
            services.get_recommendation(actor(name), rec.id)
        with pytest.raises(RecommendationNotFound):
            services.decide(actor(name), rec.id, "accept", "mine now")
        assert services.list_recommendations(actor(name), status="pending") == []
    assert [r.pk for r in services.list_recommendations(actor("sam"), status="pending")] == [rec.pk]


def test_a_colleague_who_cannot_see_the_record_cannot_see_its_recommendation(record, actor):
    """rex is in UNPOL with enough clearance, but ana's draft stays in her unit: so does its recommendation."""
    from sitaware.oversight import services
    from sitaware.oversight.errors import RecommendationNotFound

    rec = suggest(actor("ana"), record)
    with pytest.raises(RecommendationNotFound):
        services.get_recommendation(actor("rex"), rec.id)
    assert services.rates(actor("rex"), KEY)["recommendations"] == 0


def test_recommendations_on_shared_records_stay_with_their_organisation(world, make_record, builtin, actor):
    """UNPOL sees HSP's published records through the agreement (narrative withheld), but not HSP's
    recommendations, whose explanation may quote that narrative."""
    from sitaware.oversight import services
    from sitaware.oversight.errors import RecommendationNotFound
    from sitaware.records import services as records

    shared = make_record("hugo", status="published", reporting_unit="cnp-bangui", **ROBBERY_TEXT)
    assert records.get_record(actor("ana"), shared.id)
    rec = suggest(actor("hugo"), shared)
    with pytest.raises(RecommendationNotFound):
        services.get_recommendation(actor("ana"), rec.id)
    with pytest.raises(PermissionDenied):
        suggest(actor("ana"), shared)


def test_decision_entries_in_the_change_log_follow_the_records_scope(record, actor):
    from sitaware.core.services import changes_for
    from sitaware.oversight import services

    rec = suggest(actor("ana"), record)
    services.decide(actor("sam"), rec.id, "accept", "agreed")
    seen_by = {name: {e.action for e in changes_for(actor(name), limit=1000)} for name in ("sam", "hugo", "rex")}
    assert {"recommendation.create", "decision.create", "decision.apply", "record.update"} <= seen_by["sam"]
    assert not seen_by["hugo"] & {"recommendation.create", "decision.create"}
    assert not seen_by["rex"] & {"recommendation.create", "decision.create"}


# ---------------------------------------------------------------- conflicts and rates


def test_a_record_changed_since_the_suggestion_is_not_overwritten(record, actor):
    from sitaware.core import changelog
    from sitaware.oversight import services
    from sitaware.records import services as records
    from sitaware.records.models import Record

    rec = suggest(actor("ana"), record)
    records.update_record(actor("ana"), record.id, {"base_version": 1, "title": "Homicide at PK5 (corrected)"})
    last_seq = entries()[-1].seq
    decision = services.decide(actor("sam"), rec.id, "accept", "fits the narrative")
    assert decision.pk and not decision.applied
    assert decision.apply_result["status"] == "version_conflict"
    assert decision.apply_result["current_version"] == 2 and decision.apply_result["base_version"] == 1
    assert "decision is recorded but nothing was changed" in decision.apply_result["detail"]
    stored = Record.objects.get(pk=record.id)
    assert stored.category == "police.armed_robbery" and stored.version == 2
    assert [e.action for e in entries() if e.seq > last_seq] == ["decision.create", "decision.apply"]
    assert changelog.verify().ok


def test_rates_count_accept_modify_and_reject_per_component_and_role(world, make_record, builtin, actor):
    from sitaware.oversight import services

    recs = [suggest(actor("ana"), make_record("ana", **ROBBERY_TEXT)) for _ in range(4)]
    services.decide(actor("ana"), recs[0].id, "accept", "yes")
    services.decide(actor("sam"), recs[1].id, "modify", "close", {"category": "police.assault"})
    services.decide(actor("sam"), recs[2].id, "reject", "no")
    rates = services.rates(actor("otto"), KEY)
    assert {k: rates[k] for k in ("recommendations", "pending", "decided", "accept", "modify", "reject")} == {
        "recommendations": 4, "pending": 1, "decided": 3, "accept": 1, "modify": 1, "reject": 1,
    }
    assert rates["acceptance_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert rates["override_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert rates["by_decider_role"] == {"analyst": {"accept": 1, "modify": 0, "reject": 0},
                                        "supervisor": {"accept": 0, "modify": 1, "reject": 1}}
    assert services.rates(actor("hugo"), KEY)["recommendations"] == 0


def test_the_system_cannot_request_a_recommendation(record, actor):
    from sitaware.core.scope import system_actor
    from sitaware.oversight import services

    request = services.Request("record", str(record.id), "x", {}, [], {})
    with pytest.raises(PermissionDenied):
        services.recommend(system_actor(), KEY, request, lambda: pytest.fail("must not run"))


def test_a_manual_edit_works_while_a_suggestion_is_pending(record, actor):
    from sitaware.records import services as records

    suggest(actor("ana"), record)
    edited = records.update_record(actor("ana"), record.id, {"base_version": 1, "category": "police.theft"})
    assert edited.version == 2



@pytest.mark.django_db(transaction=True)
def test_two_deciders_at_the_same_moment_make_exactly_one_decision(world, make_record, actor):
    import threading

    from django.db import connections

    from sitaware.core import changelog
    from sitaware.oversight import services
    from sitaware.oversight.errors import AlreadyDecided
    from sitaware.oversight.models import Decision
    from sitaware.records.models import Record

    services.ensure_builtin_components()
    record = make_record("ana", **ROBBERY_TEXT)
    rec = suggest(actor("ana"), record)
    deciders = ["ana", "sam", "ana", "sam"]
    barrier = threading.Barrier(len(deciders))
    outcomes: list[str] = []
    failures: list[BaseException] = []

    def race(name: str) -> None:
        try:
            me = actor(name)
            barrier.wait()
            services.decide(me, rec.id, "accept", f"{name} agrees")
            outcomes.append("decided")
        except AlreadyDecided:
            outcomes.append("refused")
        except BaseException as exc:  # collected and re-raised in the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race, args=(n,)) for n in deciders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures
    assert sorted(outcomes) == ["decided", "refused", "refused", "refused"]
    assert Decision.objects.filter(recommendation=rec).count() == 1
    assert Record.objects.get(pk=record.id).version == 2
    assert changelog.verify().ok
