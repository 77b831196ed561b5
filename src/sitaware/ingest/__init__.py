"""Intake adapters: outside input (feeds, forms, SMS, sensors, TAK) into items and draft records."""
