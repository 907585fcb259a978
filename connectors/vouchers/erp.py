"""What every ERP connector returns for vouchers, so the hub treats Kingdee and Yonyou alike.

`VoucherRefused` carries the ERP's OWN messages (e.g. 凭证借贷方金额不平衡...) so the hub can show
them verbatim on the failed voucher. It is a `connectors.base.ValidationError`: permanent, the
hub dead-letters it and posting resumes once the mapping or the ERP is fixed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from connectors.base import Capability, Connector, TransientError, ValidationError, WriteResult
from connectors.vouchers.model import Voucher


class VoucherRefused(ValidationError):
    """The ERP refused the voucher; `erp_messages` are its own words, `erp_code` its own code."""

    def __init__(self, erp_messages: list[str], *, erp_code: str, instance: str | None = None) -> None:
        text = "; ".join(erp_messages) or "refused without a message"
        super().__init__(text, instance=instance, code=erp_code, detail=text)
        self.erp_messages = list(erp_messages)
        self.erp_code = erp_code


@dataclass(frozen=True)
class PostedLine:
    account: str
    debit: Decimal
    credit: Decimal
    summary: str


@dataclass(frozen=True)
class PostedVoucher:
    """A voucher as the ERP holds it (read back), keyed by our idempotency key.

    `already_posted` is True when `post` found it by key instead of saving (a retry after a
    timeout, or a replay) — the no-double-post path.
    """

    key: str
    erp_id: str
    number: str
    book: str
    date: date
    status: str
    lines: tuple[PostedLine, ...] = ()
    already_posted: bool = False
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def total_debit(self) -> Decimal:
        return sum((ln.debit for ln in self.lines), Decimal("0.00"))

    @property
    def total_credit(self) -> Decimal:
        return sum((ln.credit for ln in self.lines), Decimal("0.00"))


class VoucherPoster(Protocol):
    """Implemented by KingdeeConnector and YonyouConnector."""

    async def post(self, voucher: Voucher) -> PostedVoucher: ...
    async def find(self, key: str, *, book: str | None = None, on: date | None = None) -> PostedVoucher | None: ...
    async def list_posted(self, book: str, start: date, end: date) -> list[PostedVoucher]: ...


async def post_exactly_once(
    voucher: Voucher,
    find: Callable[[Voucher], Awaitable[PostedVoucher | None]],
    save: Callable[[Voucher], Awaitable[PostedVoucher]],
) -> PostedVoucher:
    """Query-before-save and query-after-timeout, for ERPs without (trusted) idempotent saves.

    1. the key is already in the ERP → return it (`already_posted=True`), save nothing;
    2. save; a `TransientError` (timeout, connection drop, 5xx) may hide a save that landed, so
       look again — found → `already_posted=True`; not found → re-raise, the hub retries (step 1).
    A refusal (`VoucherRefused`) passes through untouched.
    """
    existing = await find(voucher)
    if existing is not None:
        return dataclasses.replace(existing, already_posted=True)
    try:
        return await save(voucher)
    except TransientError:
        existing = await find(voucher)
        if existing is not None:
            return dataclasses.replace(existing, already_posted=True)
        raise


class ErpConnector(Connector):
    """Base of the ERP connectors (Kingdee, Yonyou): the generic ``post_voucher`` over ``post``.

    A subclass sets ``platform`` and ``sandbox_app``, builds ``self.client`` (closed by ``aclose``)
    and implements ``post``, ``find`` and ``list_posted`` (``VoucherPoster``)::

        class KingdeeConnector(ErpConnector):
            platform = "kingdee"
            async def post(self, voucher): return await post_exactly_once(voucher, self._find, self._save)
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.POST_VOUCHERS})
    mapping_dir: ClassVar[str | None] = None
    client: Any

    async def post(self, voucher: Voucher) -> PostedVoucher:
        """Post ``voucher`` unless the ERP already holds its key; ``VoucherRefused`` carries the ERP's words."""
        raise self._unsupported("post vouchers")

    async def post_voucher(self, voucher: Mapping[str, Any], *, idempotency_key: str) -> WriteResult:
        """The generic Connector contract: `voucher` is `Voucher.to_dict()` (or a Voucher)."""
        v = voucher if isinstance(voucher, Voucher) else Voucher.from_dict(voucher, key=idempotency_key)
        posted = await self.post(v)
        return WriteResult(sku=posted.key, quantity=len(posted.lines), applied=not posted.already_posted,
                           reference=posted.number)

    async def aclose(self) -> None:
        await self.client.aclose()
