"""Analytics: detection, forecasting, evaluation (pure subpackages) and their Django side."""
