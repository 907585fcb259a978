"""Inbound webhook helpers shared by connector verifiers: signatures, timestamp windows, replay pre-check."""
