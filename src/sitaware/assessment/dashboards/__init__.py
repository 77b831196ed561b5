"""Dashboards of indicators (issue 7, R-PA-04, R-SA-08): a gallery of chart types, dashboards saved as data
through services, figures read within the viewer's scope and drawn as server-side SVG, each linked to its
drill-down. Models are in `dashboards/models.py` (imported by `assessment.models` so Django finds them)."""
