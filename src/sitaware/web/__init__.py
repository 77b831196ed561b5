"""Pages a duty officer keeps open: map, live feed, record form, review queue, dashboard (EN/FR)."""
