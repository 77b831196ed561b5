"""Triage of intake items: language, relevance, category, place, personal data, near-duplicates — all suggestions."""
