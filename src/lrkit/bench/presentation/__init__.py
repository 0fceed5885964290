"""Presentation: the report, its sections and its plots."""
