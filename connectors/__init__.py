"""Zhongshu connectors: the SDK (``connectors.base``, ``connectors.testing``) and one package per platform."""

from __future__ import annotations
