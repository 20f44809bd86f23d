"""Adapters at the edges: one small typed module per outside service."""
