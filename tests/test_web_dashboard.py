"""The dashboard `/dashboard/` (R-SA-08) and its drill-down list `/records/`: every number is a link, and the
list it opens counts exactly that number (checked for every number, for several viewers and filters)."""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs

import pytest

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def spread(make_record, world):
    """Records over three months, several categories and areas, two organisations, several statuses."""
    made = []
    plan = [
        ("ana", "police.armed_robbery", "Bangui", 3, None),
        ("ana", "police.theft", "Bangui", 40, "verified"),
        ("sam", "conflict.battles", "Ouham", 70, "published"),
        ("rita", "police.assault", "", 5, None),
        ("rex", "police.homicide", "Haute-Kotto", 10, None),  # another unit's draft: hidden from rita
        ("ana", "activity.patrol", "Ouham", 35, "in_review"),
        ("hugo", "police.theft", "Ombella-M'Poko", 20, "verified"),  # shared with UNPOL by the agreement
        ("hugo", "police.arson", "Bangui", 25, None),  # HSP draft: never shared
    ]
    for author, category, admin1, days, status in plan:
        kind = "activity" if category.startswith("activity") else "event" if category.startswith("conflict") \
            else "incident"
        made.append(make_record(author, status=status, category=category, kind=kind, admin1=admin1,
                                occurred_at=(NOW - dt.timedelta(days=days)).isoformat(), sensitivity="restricted",
                                title=f"{category} in {admin1 or 'nowhere'}"))
    return made


def _numbers(page: str) -> list[tuple[str, int]]:
    found = re.findall(r'<a (?:id="total" )?href="([^"]+)" data-count="(\d+)"', page)
    return [(html.unescape(href), int(n)) for href, n in found]


def _drill(client, link: str) -> tuple[int, int]:
    response = client.get(link)
    assert response.status_code == 200, (link, response.content[:500])
    page = response.content.decode()
    count = int(re.search(r'id="count" data-count="(\d+)"', page).group(1))
    rows = page.count("<tr data-id=")
    return count, rows


@pytest.mark.parametrize("viewer", ["ana", "rita", "hugo", "otto"])
@pytest.mark.parametrize("query", ["", "?kind=incident", "?status=verified&status=published",
                                   f"?since={(NOW - dt.timedelta(days=30)).strftime('%Y-%m-%dT%H:%M:%SZ')}"])
def test_every_number_drills_down_to_a_list_of_exactly_that_many(client, world, spread, viewer, query):
    from sitaware.core.scope import actor_for
    from sitaware.records import services
    from sitaware.records.api import RecordListQuery, record_filter

    client.force_login(world.users[viewer])
    response = client.get(f"/dashboard/{query}")
    assert response.status_code == 200
    numbers = _numbers(response.content.decode())
    assert len(numbers) >= 4
    for link, n in numbers:
        count, rows = _drill(client, link)
        assert count == n, (link, count, n)
        assert rows == min(n, 50), link
    # The total equals the record API's count for the same filter.
    total = numbers[0][1]
    params = parse_qs(query.lstrip("?"))
    flt = record_filter(RecordListQuery(since=(params.pop("since", [None]))[0], **params))

    assert total == services.count_records(actor_for(world.users[viewer]), flt)


def test_the_sums_add_up_and_scope_applies(client, world, spread):
    client.force_login(world.users["ana"])
    page = client.get("/dashboard/").content.decode()
    numbers = _numbers(page)
    total = numbers[0][1]
    by_section = re.split(r'<h2 id="by-', page)
    for section in by_section[1:]:
        assert sum(n for _l, n in _numbers(section)) == total
    assert total == 6  # UNPOL's five (not rex's draft: another unit's) and HSP's shared verified one
    client.force_login(world.users["rex"])  # a Bria reporter: his own, the published one, the shared one
    assert _numbers(client.get("/dashboard/").content.decode())[0][1] == 3


def test_a_field_withheld_by_an_agreement_is_counted_apart_and_never_filtered_on(client, world, spread):
    world.agreement.redacted_fields = ["narrative", "category", "admin1"]
    world.agreement.save()
    client.force_login(world.users["ana"])
    page = client.get("/dashboard/").content.decode()
    assert "withheld by a sharing agreement" in page
    for link, n in _numbers(page):
        assert _drill(client, link)[0] == n, link
    # Filtering the list on a withheld field never finds the partner's record.
    count, _rows = _drill(client, "/records/?admin1=Ombella-M%27Poko")
    assert count == 0


def test_the_list_pages_and_refuses_bad_filters(client, world, make_record):
    for i in range(53):
        make_record("ana", title=f"r{i}", occurred_at=(NOW - dt.timedelta(hours=i + 1)).isoformat())
    client.force_login(world.users["ana"])
    page = client.get("/records/").content.decode()
    assert 'data-count="53"' in page and page.count("<tr data-id=") == 50
    older = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', page).group(1))
    assert client.get(f"/records/{older}").content.decode().count("<tr data-id=") == 3
    response = client.get("/records/?kind=nonsense&colour=red")
    assert response.status_code == 400 and b"colour" in response.content and b"nonsense" in response.content
    assert client.get("/dashboard/?category=police.theft").status_code == 400  # not a dashboard filter


def test_the_dashboard_speaks_french(client, world, spread):
    client.force_login(world.users["ana"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/dashboard/"})
    page = client.get("/dashboard/").content.decode()
    assert "Tableau de bord" in page and "Par catégorie" in page and "Vol à main armée" in page
