"""The shared connector acceptance kit on Kingdee (only POST_VOUCHERS is declared; the rest skips)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import InstanceConfig
from connectors.kingdee import KingdeeConnector
from connectors.testing.acceptance import ConnectorAcceptanceSuite
from tests.connectors.kingdee_support import ACCT, APP_ID, APP_SECRET


class TestKingdeeAcceptance(ConnectorAcceptanceSuite):
    connector_class = KingdeeConnector
    sandbox_kwargs = {"app_key": APP_ID, "app_secret": APP_SECRET, "acct_id": ACCT}

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return InstanceConfig(name="kingdee-kit", platform="kingdee", base_url=f"{base_url}/k3cloud/",
                              credentials={"password": "888888"},
                              settings={"auth": "password", "acct_id": ACCT, "username": "administrator"})


def test_kingdee_declares_only_what_it_can_do() -> None:
    from connectors.base import Capability

    assert KingdeeConnector.capabilities == frozenset({Capability.POST_VOUCHERS})
    assert KingdeeConnector.sandbox_app and KingdeeConnector.sandbox_app.endswith(":create_app")
