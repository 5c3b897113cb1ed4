"""Schemas of the normalized tables and the types that travel between layers."""
