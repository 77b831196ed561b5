"""The review queue `/review/` (R-AI-04, R-AI-06): pending recommendations in scope with what a decider needs,
decisions with reasons, nothing pre-selected, and per-component rates for oversight officers only."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def suggestion(make_record, actor):
    from sitaware.oversight import services as oversight
    from sitaware.oversight.suggest_category import suggest_category

    oversight.ensure_builtin_components()
    record = make_record("ana", title="Shots fired near the market", category="police.theft",
                         narrative="Armed men attacked and shots were fired; a battle between armed groups.")
    return record, suggest_category(actor("ana"), record.id)


def _page(client, world, name: str) -> str:
    client.force_login(world.users[name])
    response = client.get("/review/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_queue_shows_what_a_decider_needs_and_preselects_nothing(client, world, suggestion):
    record, rec = suggestion
    page = _page(client, world, "ana")
    assert f'id="rec-{rec.id}"' in page
    assert "Shots fired near the market" in page  # the record it is about
    assert rec.model_version in page and rec.model_id in page  # model version
    assert "confidence" in page and "uncertainty" in page  # uncertainty
    assert f"id: {record.id}" in page and "taxonomy" in page  # the data it used
    assert rec.explanation.splitlines()[0][:40] in page.replace("&#x27;", "'").replace("&quot;", '"')
    assert page.count('type="radio" name="outcome"') == 3
    assert " checked" not in page  # no default decision
    assert 'name="reason"' in page and "required" in page


def test_the_queue_is_scoped(client, world, suggestion):
    _record, rec = suggestion
    assert str(rec.id) not in _page(client, world, "hugo")  # another organisation
    assert "Nothing waits for a decision." in _page(client, world, "hugo")


def test_a_reason_is_required_and_errors_stand_next_to_the_field(client, world, suggestion):
    from sitaware.oversight.models import Decision

    _record, rec = suggestion
    client.force_login(world.users["ana"])
    response = client.post(f"/review/{rec.id}/decide", {"outcome": "reject", "reason": " "})
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(rf'id="e-reason-{rec.id}" class="field-error">give the reason', page)
    assert 'value="reject" required checked' in page  # what they chose is kept, not a default
    response = client.post(f"/review/{rec.id}/decide", {"outcome": "modify", "reason": "better fit"})
    assert response.status_code == 400
    assert re.search(rf'id="e-mod-{rec.id}" class="field-error">give your changed version', response.content.decode())
    response = client.post(f"/review/{rec.id}/decide", {"reason": "no choice made"})
    assert response.status_code == 400 and "use one of accept, modify, reject" in response.content.decode()
    assert not Decision.objects.exists()


def test_modify_applies_the_deciders_category_and_leaves_the_queue(client, world, suggestion):
    record, rec = suggestion
    client.force_login(world.users["ana"])
    response = client.post(f"/review/{rec.id}/decide", {"outcome": "modify", "reason": "it was a battle",
                                                        "modified_category": "conflict.battles.armed_clash"})
    if response.status_code == 400:  # the taxonomy may not have that child: use the parent
        response = client.post(f"/review/{rec.id}/decide", {"outcome": "modify", "reason": "it was a battle",
                                                            "modified_category": "conflict.battles"})
    assert response.status_code == 302 and response["Location"] == "/review/"
    rec.refresh_from_db()
    assert rec.status == "modified" and rec.decision.reason == "it was a battle"
    record.refresh_from_db()
    assert record.category.startswith("conflict.battles") and record.version == 2
    page = client.get("/review/").content.decode()
    assert "Decision recorded" in page and f'id="rec-{rec.id}"' not in page


def test_reject_changes_nothing(client, world, suggestion):
    record, rec = suggestion
    client.force_login(world.users["sam"])
    response = client.post(f"/review/{rec.id}/decide", {"outcome": "reject", "reason": "theft is right"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.category == "police.theft" and record.version == 1


def test_roles_that_cannot_decide_see_no_form_and_are_refused(client, world, suggestion):
    _record, rec = suggestion
    page = _page(client, world, "cora")  # commanders are not this component's deciders
    assert f'id="rec-{rec.id}"' in page and "Your role cannot decide" in page and 'name="outcome"' not in page
    response = client.post(f"/review/{rec.id}/decide", {"outcome": "accept", "reason": "ok"})
    assert response.status_code == 403
    rec.refresh_from_db()
    assert rec.status == "pending"


def test_rates_are_shown_to_oversight_officers_only(client, world, suggestion):
    _record, rec = suggestion
    client.force_login(world.users["ana"])
    client.post(f"/review/{rec.id}/decide", {"outcome": "reject", "reason": "no"})
    for name in ("ana", "sam", "cora", "adam"):
        assert "Acceptance and override rates" not in _page(client, world, name), name
    page = _page(client, world, "otto")
    assert "Acceptance and override rates" in page and "Category suggester" in page
    row = re.search(r"Category suggester</th>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells[:5] == ["1", "0", "0", "1", "0"] and cells[5] == "0 %" and cells[6] == "100 %"


def test_the_queue_speaks_french(client, world, suggestion):
    client.force_login(world.users["ana"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/review/"})
    page = client.get("/review/").content.decode()
    assert "File de revue" in page and "Votre décision" in page and "Motif" in page
