"""Fixtures for connector tests: the acceptance kit's fixtures live on the suite class itself."""

from __future__ import annotations
