"""The shared connector acceptance kit on Yonyou (only POST_VOUCHERS is declared; the rest skips)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import InstanceConfig
from connectors.testing.acceptance import ConnectorAcceptanceSuite
from connectors.yonyou import YonyouConnector


class TestYonyouAcceptance(ConnectorAcceptanceSuite):
    connector_class = YonyouConnector
    sandbox_kwargs = {"app_key": "kit-app-key", "app_secret": "kit-app-secret"}

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return InstanceConfig(name="yonyou-kit", platform="yonyou", base_url=base_url,
                              credentials={"app_key": "kit-app-key", "app_secret": "kit-app-secret"},
                              settings={"maker_mobile": "13800000000"})


def test_yonyou_declares_only_what_it_can_do() -> None:
    from connectors.base import Capability

    assert YonyouConnector.capabilities == frozenset({Capability.POST_VOUCHERS})
    assert YonyouConnector.sandbox_app and YonyouConnector.sandbox_app.endswith(":create_app")
