"""Early warning in the product: detectors, their runs, alerts as recommendations, CAP 1.2 and the Atom feed."""
