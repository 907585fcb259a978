"""Sync: settled stock out to every channel, fast, coalesced, rate-limited, race-safe, explained."""
