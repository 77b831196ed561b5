"""Patrol-plan solver: pure computation, no Django imports."""
