"""Who is in the demo: organisations, their units, one account per role, and the agreements between them.
Pure: no Django."""

from __future__ import annotations

from dataclasses import dataclass

# The demo is for showing the software; its password is printed on the console on purpose.
DEMO_PASSWORD = "sitaware-demo"  # noqa: S105 - a published demo credential, never a real one
DEMO_SOURCE = "demo"
# The change-log action that records a demo load (and marks the database as a demo's).
MARKER_ACTION = "demo.load"
TAXONOMY = "sitaware-default@1.0"

# role -> (short name used in usernames, clearance 0-3)
ROLES: dict[str, tuple[str, int]] = {
    "reporter": ("reporter", 1),
    "analyst": ("analyst", 2),
    "supervisor": ("supervisor", 3),
    "commander": ("commander", 3),
    "oversight_officer": ("oversight", 3),
    "administrator": ("admin", 2),
}


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class OrgSpec:
    code: str
    prefix: str  # of its usernames
    name: str
    kind: str
    units: tuple[UnitSpec, ...]  # the first is the headquarters, where the non-reporting roles sit
    share: int  # weight in the record mix
    languages: tuple[tuple[str, int], ...]
    # category group (first part of the code) -> weight; `activities` narrows the activities it does
    groups: tuple[tuple[str, int], ...]
    activities: tuple[str, ...] | None
    sources: tuple[tuple[str, int], ...]
    activity_source: str

    @property
    def hq(self) -> UnitSpec:
        return self.units[0]


ORGANISATIONS: tuple[OrgSpec, ...] = (
    OrgSpec(
        code="unpol",
        prefix="unpol",
        name="UN Police component (demo mission)",
        kind="un_police",
        units=(
            UnitSpec("bangui-hq", "Bangui HQ", 4.3667, 18.5833),
            UnitSpec("bria", "Bria team site", 6.5423, 21.9863),
            UnitSpec("bambari", "Bambari team site", 5.7653, 20.6742),
            UnitSpec("kaga-bandoro", "Kaga-Bandoro team site", 6.9833, 19.1833),
            UnitSpec("paoua", "Paoua team site", 7.2439, 16.4397),
            UnitSpec("bangassou", "Bangassou team site", 4.8390, 23.1174),
            UnitSpec("bossangoa", "Bossangoa team site", 6.4926, 17.4552),
            UnitSpec("birao", "Birao team site", 10.1372, 22.7884),
        ),
        share=50,
        languages=(("en", 70), ("fr", 30)),
        groups=(("conflict", 30), ("police", 35), ("humanitarian", 8), ("activity", 27)),
        activities=None,
        sources=(("patrol_report", 30), ("field_report", 25), ("community", 15), ("hotline", 8),
                 ("un_component", 10), ("media", 7), ("social_media", 5)),
        activity_source="patrol_report",
    ),
    OrgSpec(
        code="hsp",
        prefix="hsp",
        name="Police nationale (host state, demo)",
        kind="host_state_police",
        units=(
            UnitSpec("dg-bangui", "Direction générale, Bangui", 4.3667, 18.5833),
            UnitSpec("cp-bria", "Commissariat de Bria", 6.5423, 21.9863),
            UnitSpec("cp-bambari", "Commissariat de Bambari", 5.7653, 20.6742),
            UnitSpec("cp-bouar", "Commissariat de Bouar", 5.9333, 15.5932),
            UnitSpec("cp-bossangoa", "Commissariat de Bossangoa", 6.4926, 17.4552),
            UnitSpec("cp-kaga-bandoro", "Commissariat de Kaga-Bandoro", 6.9833, 19.1833),
        ),
        share=33,
        languages=(("fr", 85), ("en", 15)),
        groups=(("conflict", 6), ("police", 64), ("humanitarian", 2), ("activity", 28)),
        activities=("activity.patrol.foot", "activity.patrol.vehicle", "activity.patrol.joint", "activity.arrest",
                    "activity.checkpoint_operation", "activity.escort", "activity.meeting.coordination"),
        sources=(("host_state_police", 80), ("community", 12), ("hotline", 8)),
        activity_source="host_state_police",
    ),
    OrgSpec(
        code="unhcr-protection",
        prefix="unhcr",
        name="UNHCR protection cluster (demo)",
        kind="partner",
        units=(
            UnitSpec("bangui", "Bangui office", 4.3667, 18.5833),
            UnitSpec("bambari", "Bambari field office", 5.7653, 20.6742),
            UnitSpec("kaga-bandoro", "Kaga-Bandoro field office", 6.9833, 19.1833),
            UnitSpec("obo", "Obo field unit", 5.3998, 26.4869),
        ),
        share=17,
        languages=(("en", 60), ("fr", 40)),
        groups=(("conflict", 25), ("police", 15), ("humanitarian", 52), ("activity", 8)),
        activities=("activity.meeting.community_engagement", "activity.meeting.coordination"),
        sources=(("partner", 55), ("ngo", 25), ("community", 20)),
        activity_source="partner",
    ),
)
ORG_BY_CODE = {org.code: org for org in ORGANISATIONS}


@dataclass(frozen=True)
class AgreementSpec:
    reference: str
    provider: str
    recipient: str
    max_sensitivity: int
    statuses: tuple[str, ...]
    redacted_fields: tuple[str, ...]


AGREEMENTS: tuple[AgreementSpec, ...] = (
    AgreementSpec("DEMO-SA-HSP-UNPOL", "hsp", "unpol", 1, ("verified", "published"), ("source_reference",)),
    AgreementSpec("DEMO-SA-UNPOL-HSP", "unpol", "hsp", 0, ("published",), ("source_reference",)),
    AgreementSpec("DEMO-SA-UNHCR-UNPOL", "unhcr-protection", "unpol", 1, ("published",), ("narrative",)),
    AgreementSpec("DEMO-SA-UNPOL-UNHCR", "unpol", "unhcr-protection", 0, ("published",), ()),
)


@dataclass(frozen=True)
class UserSpec:
    username: str
    organisation: str
    unit: str
    role: str
    clearance: int


def users() -> list[UserSpec]:
    """One account per role at each organisation's headquarters, and a reporter for every other unit."""
    out: list[UserSpec] = []
    for org in ORGANISATIONS:
        for role, (short, clearance) in ROLES.items():
            out.append(UserSpec(f"{org.prefix}.{short}", org.code, org.hq.code, role, clearance))
        for unit in org.units[1:]:
            out.append(UserSpec(f"{org.prefix}.reporter.{unit.code}", org.code, unit.code, "reporter",
                                ROLES["reporter"][1]))
    return out


def author_for(org: OrgSpec, unit_code: str, status: str, sensitivity: int) -> str:
    """Who files a record: the unit's reporter for unreviewed work within their clearance, else an analyst or
    the supervisor, who alone may create records already verified, published or archived."""
    if status in ("draft", "in_review"):
        if sensitivity <= ROLES["reporter"][1]:
            return f"{org.prefix}.reporter" if unit_code == org.hq.code else f"{org.prefix}.reporter.{unit_code}"
        if sensitivity <= ROLES["analyst"][1]:
            return f"{org.prefix}.analyst"
    return f"{org.prefix}.supervisor"
