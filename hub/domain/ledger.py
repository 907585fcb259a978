"""Pure double-entry ledger arithmetic: accounts, movements, and the rules a batch must obey.

No I/O here. :mod:`hub.services.ledger` applies what this module validates to the database, so the rules
(accounts are well formed, quantities positive, guarded buckets never negative, every sku sums to zero)
can be tested exhaustively without a database.

An account is ``LOCATION/BUCKET`` (``WH-SH/free``) or one of the virtual locations ``supplier``,
``customer``, ``adjustment``, ``transit``. A movement takes a positive quantity *from* one account *to*
another; balances are "what the account holds", so ``supplier`` and ``customer`` run negative/positive
and the sum over all accounts of a sku is always zero.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.domain.errors import InvalidRequest, UnknownAccount

BUCKETS: tuple[str, ...] = (
    "free",
    "reserved",
    "presale_locked",
    "picking",
    "quality_hold",
    "damaged",
    "in_transit",
)
ON_HAND_BUCKETS: tuple[str, ...] = ("free", "reserved", "presale_locked", "picking", "quality_hold", "damaged")
VIRTUAL_LOCATIONS: tuple[str, ...] = ("supplier", "customer", "adjustment", "transit")
KINDS: tuple[str, ...] = (
    "receive",
    "reserve",
    "release",
    "ship",
    "transfer_out",
    "transfer_in",
    "adjust",
    "lock_presale",
    "unlock_presale",
    "hold",
    "unhold",
    "pick",
    "damage",
    "return",
    "move",
)
_LOCATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_SKU = re.compile(r"^[^\s/][^\t\r\n]{0,127}$")
MAX_QTY = 10**12


@dataclass(frozen=True, slots=True)
class Account:
    """A place stock can be: a bucket at a location, or a virtual location."""

    location: str
    bucket: str | None = None

    def __str__(self) -> str:
        return self.location if self.bucket is None else f"{self.location}/{self.bucket}"

    @property
    def is_virtual(self) -> bool:
        return self.bucket is None

    @classmethod
    def parse(cls, text: str) -> Account:
        if not isinstance(text, str) or not text:
            raise UnknownAccount("account must be a non-empty string like 'WH-SH/free' or 'supplier'")
        if "/" not in text:
            if text in VIRTUAL_LOCATIONS:
                return cls(text)
            raise UnknownAccount(
                f"unknown account {text!r}: use LOCATION/BUCKET or one of {', '.join(VIRTUAL_LOCATIONS)}",
                account=text,
            )
        location, _, bucket = text.partition("/")
        if location in VIRTUAL_LOCATIONS:
            raise UnknownAccount(f"virtual location {location!r} has no buckets: write {location!r}", account=text)
        if not _LOCATION.match(location):
            raise UnknownAccount(f"bad location in account {text!r}", account=text)
        if bucket not in BUCKETS:
            raise UnknownAccount(
                f"unknown bucket {bucket!r} in account {text!r}: one of {', '.join(BUCKETS)}", account=text
            )
        return cls(location, bucket)


@dataclass(frozen=True, slots=True)
class Movement:
    """One instruction to move ``qty`` units of ``sku`` between two accounts, identified by ``key``."""

    key: str
    sku: str
    qty: int
    source: Account
    target: Account
    kind: str
    parents: tuple[str, ...] = field(default=())

    def same_content(self, other: Movement) -> bool:
        return (self.sku, self.qty, str(self.source), str(self.target), self.kind) == (
            other.sku,
            other.qty,
            str(other.source),
            str(other.target),
            other.kind,
        )


def make_movement(
    *, key: str, sku: str, qty: int, source: str, target: str, kind: str, parents: Iterable[str] = ()
) -> Movement:
    """Validate raw fields into a :class:`Movement`, raising :class:`InvalidRequest` naming the bad field."""
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise InvalidRequest("key must be a non-empty string of at most 200 characters", field="key")
    if not isinstance(sku, str) or not _SKU.match(sku):
        raise InvalidRequest(f"bad sku {sku!r}: 1-128 characters, no slash first, no control characters", field="sku")
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0 or qty > MAX_QTY:
        raise InvalidRequest(f"qty must be a positive integer (got {qty!r})", field="qty")
    if kind not in KINDS:
        raise InvalidRequest(f"unknown kind {kind!r}: one of {', '.join(KINDS)}", field="kind")
    src, dst = Account.parse(source), Account.parse(target)
    if src == dst:
        raise InvalidRequest(f"from and to are the same account {source!r}", field="to")
    return Movement(key=key, sku=sku, qty=qty, source=src, target=dst, kind=kind, parents=tuple(parents))


def net_deltas(movements: Iterable[Movement]) -> dict[tuple[str, str], int]:
    """Net change per (sku, account) of a batch, in a deterministic (sorted) order.

    A batch applies all-or-nothing, so only its net effect on each account must respect the guards;
    applying the deltas in sorted order is also what keeps concurrent batches from deadlocking.
    """
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    for m in movements:
        deltas[(m.sku, str(m.source))] -= m.qty
        deltas[(m.sku, str(m.target))] += m.qty
    return {k: v for k, v in sorted(deltas.items()) if v != 0}


def is_guarded(account: str, guarded_buckets: Iterable[str]) -> bool:
    _, _, bucket = account.partition("/")
    return bool(bucket) and bucket in set(guarded_buckets)


def check_unique_keys(movements: list[Movement]) -> None:
    seen: dict[str, Movement] = {}
    for m in movements:
        if m.key in seen and not seen[m.key].same_content(m):
            raise InvalidRequest(f"key {m.key!r} appears twice in the batch with different content", field="key")
        seen[m.key] = m
