"""Performance assessment: results frameworks, indicators with provenance, assessments and reports (R-PA)."""
