"""Early-warning detection: pure computation, no Django imports."""
