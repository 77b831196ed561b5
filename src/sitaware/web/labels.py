"""Translatable labels for the record vocabularies the pages show (the stored values stay English codes)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

KIND_LABELS = {
    "incident": _("Incident"),
    "event": _("Event"),
    "activity": _("Activity"),
}
STATUS_LABELS = {
    "draft": _("Draft"),
    "in_review": _("In review"),
    "verified": _("Verified"),
    "published": _("Published"),
    "archived": _("Archived"),
}
SOURCE_TYPE_LABELS = {
    "field_report": _("Field report"),
    "patrol_report": _("Patrol report"),
    "host_state_police": _("Host-state police"),
    "un_component": _("UN component"),
    "partner": _("Partner"),
    "ngo": _("NGO"),
    "community": _("Community"),
    "hotline": _("Hotline"),
    "media": _("Media"),
    "social_media": _("Social media"),
    "sensor": _("Sensor"),
    "dataset": _("Dataset"),
    "other": _("Other"),
}
ACTION_LABELS = {
    "record.create": _("created"),
    "record.update": _("changed"),
    "record.status": _("status changed"),
}


def labelled(values: tuple[str, ...], labels: dict[str, object]) -> list[tuple[str, str]]:
    return [(value, str(labels.get(value, value.replace("_", " ")))) for value in values]


# What the map's script writes into the page; placeholders are filled in by the script.
SCRIPT_STRINGS = {
    "loading": _("Loading…"),
    "in_view_more": _("{count} more: zoom in or narrow the filters."),
    "in_view_cells": _("Zoom in to list the records."),
    "no_webgl": _("This browser cannot draw the map (WebGL is off); the live feed still works."),
    "load_failed": _("Could not load the map data; retrying when the view changes."),
    "points_summary": _("{shown} of {total} records shown as points."),
    "points_truncated": _("Only the newest {shown} of {total} records are shown: zoom in or narrow the filters."),
    "cells_summary": _("{total} records in {cells} hexagons. Zoom in to see points."),
    "live_connected": _("Live: connected."),
    "live_reconnecting": _("Live: connection lost, reconnecting…"),
    "live_stopped": _("Live: stopped (sign in again)."),
    "record_not_found": _("This record is not available."),
    "history": _("History"),
    "recommendations": _("Recommendations"),
    "no_recommendations": _("No recommendations about this record."),
    "version": _("Version {version}"),
    "withheld": _("withheld"),
    "changed_fields": _("Changed: {fields}"),
    "decision": _("Decision: {outcome}"),
    "pending": _("pending decision"),
    "open_record": _("Open record"),
    "all_time": _("all time"),
    "last_days": _("last {days} days"),
    "kind": _("Kind"),
    "category": _("Category"),
    "status": _("Status"),
    "sensitivity": _("Sensitivity"),
    "occurred_at": _("Occurred"),
    "place": _("Place"),
    "source": _("Source"),
    "unit": _("Reporting unit"),
    "narrative": _("Narrative"),
    "untitled": _("(untitled)"),
}
