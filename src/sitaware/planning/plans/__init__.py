"""Pure helpers around a stored plan (no Django): re-schedule edited routes, plan vs. actual, GPX and GeoJSON."""
