"""TmsConnector: parcel tracking through Kuaidi100 (快递100), pushed and polled.

Credentials: ``key`` (授权key), ``customer`` (公司编号), ``salt`` (the push signing salt we chose
when subscribing). Settings: ``callback_url`` (default for ``subscribe``), paths, rate, retry.
A push becomes ``PushedEvent(event_id="kuaidi100:<nu>:<state>:<latest scan time>",
topic="tracking/<picked_up|in_transit|out_for_delivery|delivered|returning|returned|...>",
payload=<the param JSON>)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from connectors.base import (Capability, Connector, InstanceConfig, PushAck, PushedEvent, RetryPolicy, ValidationError,
                             VerificationError)

from .client import Kuaidi100Client
from .tracking import Tracking, parse_result
from .verifier import ACK, refusal, verify_push

__all__ = ["TmsConnector"]


class TmsConnector(Connector):
    platform: ClassVar[str] = "tms"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.PUSH})
    sandbox_app: ClassVar[str | None] = "connectors.tms.sandbox:create_app"
    mapping_dir: ClassVar[str | None] = "tms"

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config)
        self._retry = retry
        self._client: Kuaidi100Client | None = None

    @property
    def client(self) -> Kuaidi100Client:
        if self._client is None:
            self._client = Kuaidi100Client(self.config, retry=self._retry)
        return self._client

    def verify_push(self, headers: Mapping[str, str], body: bytes, *, now: float) -> PushedEvent:
        try:
            return verify_push(headers, body, salt=self.config.credential("salt"))
        except VerificationError as exc:
            exc.instance = self.name
            raise

    def push_ack(self, event: PushedEvent) -> PushAck:
        return ACK

    def push_refusal(self, error: VerificationError) -> PushAck:
        return refusal(error)

    async def track(self, number: str, company: str, *, phone: str = "") -> Tracking:
        """Poll one parcel now (/poll/query.do). ``NotFound`` while the carrier has no scan yet."""
        return parse_result(await self.client.query(number, company, phone=phone))

    async def subscribe(self, number: str, company: str, *, callback_url: str | None = None, phone: str = "") -> None:
        """Subscribe a parcel; pushes go to ``callback_url`` (or setting ``callback_url``) signed with our salt."""
        url = callback_url or self.config.setting("callback_url")
        if not url:
            raise ValidationError("no callback_url given or configured", instance=self.name)
        await self.client.subscribe(number, company, callback_url=str(url), salt=self.config.credential("salt"),
                                    phone=phone)

    @staticmethod
    def tracking_of(event: PushedEvent) -> Tracking:
        """The typed tracking state carried by a verified push."""
        return parse_result(event.payload["lastResult"])

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
