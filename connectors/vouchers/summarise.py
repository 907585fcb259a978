"""Summarised posting (汇总凭证): many per-movement vouchers → one voucher per day/shop/sku group.

Lines with the same account, side and dimensions are added up; lineage survives because each
merged line keeps every movement id it came from.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Iterable, Sequence

from connectors.vouchers.model import Voucher, VoucherError, VoucherLine, voucher_key

GRAINS = ("day", "shop", "sku")


def summarise(vouchers: Iterable[Voucher], grain: Sequence[str] = ("day", "shop")) -> list[Voucher]:
    """Group per (book, template, day[, shop][, sku]) and merge lines. `day` is always part of the grain."""
    bad = [g for g in grain if g not in GRAINS]
    if bad:
        raise VoucherError(f"unknown summary grain {bad}; choose from {GRAINS}")
    groups: dict[tuple[str, ...], list[Voucher]] = defaultdict(list)
    for v in vouchers:
        meta = dict(v.meta)
        key = (
            v.book,
            meta.get("template", ""),
            v.date.isoformat(),
            meta.get("shop", "") if "shop" in grain else "",
            meta.get("sku", "") if "sku" in grain else "",
        )
        groups[key].append(v)
    out = []
    for (book, template, day, shop, sku), members in sorted(groups.items()):
        merged: dict[tuple, list] = {}
        for v in members:
            for line in v.lines:
                side = "D" if line.debit else "C"
                k = (line.account, side, line.dims)
                acc = merged.setdefault(k, [Decimal("0.00"), []])
                acc[0] += line.debit or line.credit
                acc[1].extend(line.movement_ids)
        label = " ".join(p for p in (day, shop, sku) if p)
        summary = f"{label} {_LABELS.get(template, template)}汇总 {len(members)}笔"
        lines = tuple(
            VoucherLine(
                account=account,
                debit=amount if side == "D" else Decimal(0),
                credit=amount if side == "C" else Decimal(0),
                summary=summary,
                dims=dims,
                movement_ids=tuple(sorted(set(ids))),
            )
            for (account, side, dims), (amount, ids) in merged.items()
        )
        ids = tuple(sorted({i for v in members for i in v.source_movement_ids}))
        out.append(
            Voucher(
                key=voucher_key("sum", book, template, day, shop, sku, *ids),
                book=book,
                date=members[0].date,
                lines=lines,
                source_movement_ids=ids,
                meta=(("template", template), ("shop", shop), ("sku", sku), ("summary", "1")),
            )
        )
    return out


_LABELS = {
    "receive": "采购入库",
    "ship": "销售出库",
    "customer_return": "销售退回",
    "adjust_gain": "盘盈",
    "adjust_loss": "盘亏",
    "transfer_out_intercompany": "跨法人调拨出库",
    "transfer_in_intercompany": "跨法人调拨入库",
}
