"""Issued API keys: stored as digests, shown once, revocable, scoped to a tenant and source."""
