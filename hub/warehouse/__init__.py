"""The warehouse loop through the ledger: routing, WMS delivery/entry/return orders and their
confirmations, stock counts and stock-change reports, batches and expiry, low-stock alerts, tracking.

``hooks`` is what the pipeline calls; ``jobs`` the durable WMS calls; ``config`` the declared rules
(``routing.yaml``, ``thresholds.yaml``).
"""
