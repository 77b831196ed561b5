"""Patrol planning: solver (pure subpackage), plans, approval, execution tracking."""
