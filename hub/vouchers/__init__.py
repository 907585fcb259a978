"""Vouchers (凭证): ledger movements → balanced, valued vouchers → Kingdee / Yonyou, exactly once.

``scan`` turns new movements into vouchers and post jobs; ``posting.post_one`` posts one voucher to
one ERP; ``queries`` is the read side and operator actions; ``reconcile`` the per-period report.
Job handlers register on import of :mod:`hub.vouchers.jobs`.
"""

from __future__ import annotations

from hub.vouchers.config import VoucherConfig, VoucherConfigError, load_config, parse_config

__all__ = ["VoucherConfig", "VoucherConfigError", "load_config", "parse_config"]
