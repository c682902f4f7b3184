"""Versioned message contracts. A breaking change is a new model and topic version."""
