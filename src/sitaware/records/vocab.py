"""Controlled vocabularies of a record (ACLED/UCDP codebook patterns). Pure: no Django."""

from __future__ import annotations

KINDS = ("incident", "event", "activity")
STATUSES = ("draft", "in_review", "verified", "published", "archived")
# Allowed status moves and the permission each needs (see core.scope.ROLE_ACTIONS).
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "in_review"): "submit",
    ("in_review", "draft"): "review",  # returned to the author
    ("in_review", "verified"): "review",
    ("verified", "published"): "publish",
    ("verified", "in_review"): "review",
    ("published", "archived"): "archive",
    ("verified", "archived"): "archive",
    ("archived", "published"): "archive",
}
TIME_PRECISIONS = ("exact", "hour", "day", "week", "month", "year")
LOCATION_PRECISIONS = ("exact", "near", "admin2", "admin1", "region", "country")
SOURCE_TYPES = (
    "field_report",
    "patrol_report",
    "host_state_police",
    "un_component",
    "partner",
    "ngo",
    "community",
    "hotline",
    "media",
    "social_media",
    "sensor",
    "dataset",
    "other",
)
# Admiralty code: source reliability A (completely reliable) .. F (cannot be judged);
# information credibility 1 (confirmed) .. 6 (cannot be judged).
SOURCE_RELIABILITY = ("A", "B", "C", "D", "E", "F")
INFORMATION_CREDIBILITY = (1, 2, 3, 4, 5, 6)
CASUALTY_GROUPS = ("civilians", "security_forces", "un_personnel", "armed_groups", "unknown")
CASUALTY_COUNTS = ("killed", "injured", "missing")
# Fields that identify a source or informant: shown only to those with need to know.
SOURCE_IDENTITY_FIELDS = ("source_identity",)

# Codebook mappings used by the importers.
UCDP_DATE_PRECISION = {1: "day", 2: "week", 3: "week", 4: "month", 5: "year"}
UCDP_WHERE_PRECISION = {1: "exact", 2: "near", 3: "admin2", 4: "admin1", 5: "region", 6: "country", 7: "region"}
ACLED_TIME_PRECISION = {1: "day", 2: "week", 3: "month"}
ACLED_GEO_PRECISION = {1: "exact", 2: "near", 3: "admin1"}
