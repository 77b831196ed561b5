"""The demo scenario: everyone and everything represented, real places, deterministic, and safe to run twice."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import shared_data

RECORDS = 300
# A fixed, past end of the two-year window, so two loads of the same seed can be compared field by field.
UNTIL = (dt.date.today() - dt.timedelta(days=3)).isoformat()
IN_CAR = (14.4, 2.2, 27.5, 11.1)  # min lon, min lat, max lon, max lat


def demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--records", str(RECORDS), "--until", UNTIL, "--no-progress", "--no-ucdp", *args,
                 stdout=out)
    return out.getvalue()


def demo_records():
    from sitaware.records.models import Record

    return Record.objects.filter(external_source="demo")


def snapshot() -> dict[str, tuple]:
    columns = ("id", "organisation__code", "reporting_unit__code", "created_by__username", "kind", "category",
               "title", "narrative", "occurred_at", "latitude", "longitude", "admin1", "place_name", "status",
               "sensitivity", "casualties", "source_reliability", "information_credibility")
    return {row[0]: row[1:] for row in demo_records().values_list("external_id", *columns)}


def test_the_demo_has_every_role_in_every_organisation_and_prints_their_logins(db):
    from django.contrib.auth import authenticate

    from sitaware.core.choices import Role
    from sitaware.core.demo.scenario import DEMO_PASSWORD, ORGANISATIONS
    from sitaware.core.models import Membership, Organisation, SharingAgreement

    out = demo()
    assert {o.code for o in Organisation.objects.all()} == {"unpol", "hsp", "unhcr-protection"}
    for org in ORGANISATIONS:
        roles = set(Membership.objects.filter(organisation__code=org.code).values_list("role", flat=True))
        assert roles == set(Role.values), org.code
        assert Membership.objects.filter(organisation__code=org.code).values("unit").distinct().count() == len(
            org.units)
    for membership in Membership.objects.select_related("user", "organisation"):
        assert authenticate(username=membership.user.username, password=DEMO_PASSWORD) == membership.user
        assert f"  {membership.user.username} " in out
    assert SharingAgreement.objects.filter(provider__code="hsp", recipient__code="unpol").exists()
    assert SharingAgreement.objects.filter(provider__code="unhcr-protection", recipient__code="unpol").exists()
    assert "Demo logins:" in out and DEMO_PASSWORD in out
    assert "WARNING: This is DEMONSTRATION data" in out


def test_demo_records_cover_every_status_sensitivity_and_kind_at_places_inside_car(db):
    from sitaware.core.models import ChangeEntry
    from sitaware.records.models import RecordRevision

    demo()
    records = demo_records()
    assert records.count() == RECORDS
    assert set(records.values_list("status", flat=True)) == {"draft", "in_review", "verified", "published",
                                                              "archived"}
    assert set(records.values_list("sensitivity", flat=True)) == {0, 1, 2, 3}
    assert set(records.values_list("kind", flat=True)) == {"incident", "event", "activity"}
    assert records.values("category").distinct().count() >= 30
    assert set(records.values_list("organisation__code", flat=True)) == {"unpol", "hsp", "unhcr-protection"}
    min_lon, min_lat, max_lon, max_lat = IN_CAR
    end = dt.datetime.fromisoformat(UNTIL).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    for record in records:
        assert min_lat <= record.latitude <= max_lat and min_lon <= record.longitude <= max_lon
        assert record.admin1 and record.place_name and record.narrative
        assert end - dt.timedelta(days=731) <= record.occurred_at <= end
        assert record.reported_at >= record.occurred_at
    narratives = list(records.values_list("narrative", flat=True))
    assert any(n.startswith(("On ", "During ", "In ")) for n in narratives)
    assert any(n.startswith(("Le ", "Au cours ", "En ")) for n in narratives)
    assert records.exclude(casualties={}).exists() and records.exclude(source_identity="").exists()
    # Written through the services: a revision and a change-log entry for every record.
    assert RecordRevision.objects.filter(record__in=records).count() == RECORDS
    assert ChangeEntry.objects.filter(action="record.create").count() == RECORDS
    # Reporters file their own unit's unreviewed work; only supervisors file records already published.
    assert not records.filter(status="published").exclude(created_by__membership__role="supervisor").exists()
    assert records.filter(created_by__membership__role="reporter").exists()


def test_the_demo_is_deterministic_for_a_seed(transactional_db):
    # --reset empties whole tables, which PostgreSQL refuses inside the transaction a plain `db` test runs in.
    demo("--seed", "3")
    first = snapshot()
    demo("--seed", "3", "--reset")
    assert snapshot() == first
    demo("--seed", "4", "--reset")
    other = snapshot()
    assert len(other) == RECORDS and set(other) != set(first)
    assert [v for k, v in sorted(other.items())] != [v for k, v in sorted(first.items())]


def test_running_the_demo_twice_duplicates_nothing_and_more_records_add_only_the_new_ones(db):
    from django.contrib.auth import get_user_model

    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry, Organisation, SharingAgreement, Unit

    def counts():
        return (demo_records().count(), get_user_model().objects.count(), Organisation.objects.count(),
                Unit.objects.count(), SharingAgreement.objects.count(), ChangeEntry.objects.count())

    demo()
    before = counts()
    again = demo()
    assert counts() == before
    assert "is already loaded; nothing to do" in again and "Demo logins:" in again
    first = snapshot()
    out = io.StringIO()
    call_command("demo", "--records", str(RECORDS + 20), "--until", UNTIL, "--no-progress", "--no-ucdp",
                 stdout=out)
    assert "20 created, 0 updated, 300 unchanged, 0 refused" in out.getvalue()
    after = snapshot()
    assert len(after) == RECORDS + 20 and {k: after[k] for k in first} == first
    assert changelog.verify().ok


def test_reset_refuses_when_the_database_holds_anything_but_the_demo(db):
    from sitaware.core.models import Organisation

    demo()
    Organisation.objects.create(code="real-police", name="A real organisation", kind="host_state_police")
    with pytest.raises(CommandError, match=r"refusing to reset: .*organisations not from the demo: real-police"):
        demo("--reset")
    assert demo_records().count() == RECORDS


def test_reset_refuses_when_someone_wrote_a_record_of_their_own(db):
    from sitaware.core.demo.load import demo_actors
    from sitaware.records import services
    from tests.conftest import record_payload

    demo()
    services.create_record(demo_actors()["unpol.analyst"], record_payload())
    with pytest.raises(CommandError, match="1 records not written by the demo"):
        demo("--reset")


def test_places_fall_back_to_real_car_towns_without_the_shared_data(db, monkeypatch, tmp_path):
    from sitaware.core.demo import places
    from sitaware.core.demo.generate import Generator

    monkeypatch.setattr(places, "UCDP_EVENTS", tmp_path / "absent.csv")
    found, source = places.demo_places()
    assert "built-in table" in source and len(found) == 40
    assert {"Bangui", "Bria", "Bambari", "Kaga Bandoro", "Paoua", "Bangassou"} <= {p.name for p in found}
    generator = Generator(1, dt.datetime(2025, 6, 30, tzinfo=dt.UTC), found)
    min_lon, min_lat, max_lon, max_lat = IN_CAR
    for index in range(200):
        payload = generator.record(index).payload
        assert min_lat <= payload["latitude"] <= max_lat and min_lon <= payload["longitude"] <= max_lon
        assert payload["place_name"] in {p.name for p in found}


def test_places_come_from_the_ucdp_events_with_their_admin_names():
    from sitaware.core.demo.places import load_ucdp_places

    found = load_ucdp_places(shared_data("events", "ucdp_ged_caf", "ged231_caf_events.csv"))
    assert len(found) > 400
    bangui = found[0]
    assert (bangui.name, bangui.admin1, bangui.admin2, bangui.precision) == ("Bangui", "Bangui", "Bangui", "exact")
    assert bangui.weight > 200  # the most frequent place of CAR events
    assert not any(p.admin1.endswith(" province") for p in found)
    min_lon, min_lat, max_lon, max_lat = IN_CAR
    assert all(min_lat <= p.latitude <= max_lat and min_lon <= p.longitude <= max_lon for p in found)


def test_every_narrative_template_belongs_to_a_category_of_the_taxonomy_and_fills_in():
    from sitaware.core.demo import narratives
    from sitaware.core.demo.scenario import TAXONOMY
    from sitaware.records.taxonomy import TaxonomyRegistry

    taxonomy = TaxonomyRegistry().get(TAXONOMY)
    leaves = {c.code for c in taxonomy.leaves()}
    assert set(narratives.TEMPLATES) <= leaves
    assert len(narratives.TEMPLATES) >= 50
    slots = {"when": "On 1 May 2025", "place": "Bria", "area": "Haute-Kotto", "actor": "x", "victim": "y", "n": 3,
             "unit": "Bria team site"}
    for code, template in narratives.TEMPLATES.items():
        assert template.en and template.fr, code
        for text in (*template.en, *template.fr):
            assert text.startswith("{when}, ") and "Bria" in text.format(**slots), code


def test_the_demo_imports_the_real_ucdp_events_as_unpol_dataset_records(db):
    from sitaware.records.models import ImportJob, Record

    path = shared_data("events", "ucdp_ged_caf", "ged231_caf_events.csv")
    out = io.StringIO()
    call_command("demo", "--records", "20", "--until", UNTIL, "--no-progress", "--events", str(path), stdout=out)
    ucdp = Record.objects.filter(external_source="ucdp-ged")
    assert ucdp.count() == 1848
    assert set(ucdp.values_list("organisation__code", "source_type", "status", "sensitivity").distinct()) == {
        ("unpol", "dataset", "published", 0)}
    job = ImportJob.objects.get()
    assert job.status == "done" and job.created_count == 1848
    assert "UCDP GED events imported as UNPOL records" in out.getvalue()


def test_token_for_mints_a_working_token_for_a_demo_account_only(db):
    from sitaware.core.services import authenticate_token

    demo()
    out = io.StringIO()
    call_command("demo", "--token-for", "hsp.reporter.cp-bria", stdout=out)
    secret = out.getvalue().split("(shown once): ")[1].split()[0]
    assert authenticate_token(secret).username == "hsp.reporter.cp-bria"
    with pytest.raises(CommandError, match="'rita' is not a demo account"):
        call_command("demo", "--token-for", "rita", stdout=io.StringIO())


def test_the_demo_refuses_to_load_into_a_real_installation(db):
    from django.contrib.auth import get_user_model

    from sitaware.core.models import Organisation

    Organisation.objects.create(code="unpol", name="A real UN police component", kind="un_police")
    get_user_model().objects.create_user(username="jdoe", password=None)
    with pytest.raises(CommandError, match=r"refusing to load the demo into a database that holds other data "
                                           r"\(accounts not from the demo: jdoe\)"):
        demo()
    assert not get_user_model().objects.filter(username__startswith="unpol.").exists()


def test_the_demo_still_runs_after_someone_added_an_account_to_it(db):
    demo()
    call_command("createuser", "boss", "--org", "unpol", "--role", "administrator", "--no-password", "--superuser",
                 stdout=io.StringIO())
    assert "is already loaded" in demo()


def test_serve_reminds_of_the_demo_password_once_the_demo_is_loaded(db, monkeypatch, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)
    # The test's transaction must survive the command: keep its connection open.
    monkeypatch.setattr("sitaware.core.management.commands.serve.connections.close_all", lambda: None)
    out = io.StringIO()
    call_command("serve", "--no-worker", stdout=out)
    assert "demo data" not in out.getvalue()
    demo()
    out = io.StringIO()
    call_command("serve", "--no-worker", stdout=out)
    assert "every demo account's password is sitaware-demo" in out.getvalue()
    assert "task worker: none here" in out.getvalue()


def test_the_demo_writes_an_example_results_framework_with_computed_figures_and_a_dashboard(db, client):
    from sitaware.assessment.dashboards.models import Dashboard
    from sitaware.assessment.models import Indicator, IndicatorValue, ResultsFramework

    out = demo()
    assert "Example results framework 'demo-cpas' written" in out
    fw = ResultsFramework.objects.get(code="demo-cpas", organisation__code="unpol")
    assert fw.status == "active"
    indicators = {i.code: i for i in Indicator.objects.filter(framework=fw)}
    assert set(indicators) == {"I1", "I2", "I3", "I4", "I5", "I6"}
    assert all(i.status == "active" for i in indicators.values())
    incidents = IndicatorValue.objects.filter(indicator=indicators["I1"], disaggregation_key="{}")
    assert incidents.count() == 12 and sum(v.value for v in incidents) > 0
    # No alert decided and no plan approved in a fresh demo: those figures are empty and say why.
    alerts = IndicatorValue.objects.filter(indicator=indicators["I4"], disaggregation_key="{}")
    assert alerts.count() == 12 and all(v.value is None and v.empty_reason for v in alerts)
    assert IndicatorValue.objects.filter(indicator=indicators["I6"], source="entered").count() == 6
    board = Dashboard.objects.get(framework=fw)
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="unpol.analyst"))
    assert client.get(f"/assessment/dashboards/{board.pk}/").status_code == 200
    assert "nothing to do" in demo()  # written once
