"""Place-based forecasting and its evaluation: pure computation, no Django imports.

Modules: `grid` (cells), `base` (Events, Forecast, Model protocol), `baselines`, `sepp`, `metrics`, `evaluation`,
`feedback` (runaway-feedback simulation and attention concentration), `datasets` (public evaluation data readers).
Nothing here reads or produces anything about a person: inputs are times and places, outputs are per cell.
See docs/forecasting.md.
"""
