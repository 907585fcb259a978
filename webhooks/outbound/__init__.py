"""Outbound webhooks: signing, retry schedule, SSRF guard and one delivery attempt (no storage)."""
