"""Semantik: self-hosted semantic search."""
