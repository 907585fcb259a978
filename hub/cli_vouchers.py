"""``zhongshu vouchers …``: dry-run a template on a movement, post what is pending, reconcile a period.

Mounted by hub/cli.py: ``app.add_typer(vouchers_app, name="vouchers")``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hub.settings import Settings, SettingsError, load_settings

vouchers_app = typer.Typer(help="Accounting vouchers (凭证) to Kingdee / Yonyou.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _print(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


def movement_from_json(doc: dict[str, Any]) -> Any:
    """``{"kind","sku","qty","from","to"[, "unit_cost","shop","entity","refs","created_at","id","key"]}``."""
    from hub.vouchers.facts import MovementInput

    missing = [k for k in ("kind", "sku", "qty", "from", "to") if k not in doc]
    if missing:
        raise typer.BadParameter(f"movement JSON lacks {', '.join(missing)}")
    created = datetime.fromisoformat(doc["created_at"]) if doc.get("created_at") else datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return MovementInput(
        id=int(doc.get("id", 0)), key=str(doc.get("key", "dry-run")), kind=str(doc["kind"]), sku=str(doc["sku"]),
        qty=int(doc["qty"]), from_account=str(doc["from"]), to_account=str(doc["to"]), created_at=created,
        unit_cost=Decimal(str(doc["unit_cost"])) if doc.get("unit_cost") is not None else None,
        entity=doc.get("entity"), counterparty_entity=doc.get("counterparty_entity"), shop=doc.get("shop"),
        refs=doc.get("refs") or {},
    )  # fmt: skip


async def dry_run_movement(
    settings: Settings, movement_id: int | None, doc: dict[str, Any] | None, erp: str | None
) -> dict[str, Any]:
    """Value a movement against a COPY of the costing state; nothing is stored."""
    from hub.bootstrap import build_hub
    from hub.storage.models import MovementRow, Source
    from hub.vouchers.config import load_config
    from hub.vouchers.erps import account_map
    from hub.vouchers.facts import facts_for
    from hub.vouchers.scan import dry_run, movement_inputs

    hub = await build_hub(settings, run_jobs=False)
    try:
        config = load_config(settings, hub.ctx.extras)
        async with hub.sessionmaker() as session:
            if doc is not None:
                m = movement_from_json(doc)
            else:
                row = await session.get(MovementRow, movement_id)
                if row is None:
                    raise typer.BadParameter(f"no movement {movement_id}")
                m = (await movement_inputs(session, [row]))[0]
            facts = facts_for(m, config)
            vouchers = await dry_run(session, config, m)
            source = await session.get(Source, erp) if erp else None
        templates = config.templates()
        result: dict[str, Any] = {"movement_id": m.id, "facts": [f.kind + f" ({f.entity})" for f in facts],
                                  "templates": [templates.find(f).name for f in facts],
                                  "vouchers": [v.to_dict() for v in vouchers]}  # fmt: skip
        if erp:
            amap = account_map(templates, source) if source is not None else dict(templates.account_map(erp))
            result["erp"] = erp
            result["erp_vouchers"] = [v.with_accounts(amap).to_dict() for v in vouchers]
        return result
    finally:
        await hub.close()


@vouchers_app.command("try")
def try_movement(
    movement_id: Annotated[int | None, typer.Argument(help="Id of a ledger movement.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="A movement as JSON instead of an id.")] = None,
    erp: Annotated[
        str | None, typer.Option(help="ERP source name (or kingdee|yonyou) to show ERP account codes.")
    ] = None,
) -> None:
    """Dry-run the voucher templates on a movement (valued at the current moving average; nothing is stored)."""
    from connectors.vouchers import VoucherError
    from connectors.vouchers.costing import CostingError

    if (movement_id is None) == (json_file is None):
        raise typer.BadParameter("give a MOVEMENT_ID or --json FILE (one of them)")
    doc = json.loads(json_file.read_text(encoding="utf-8")) if json_file else None
    try:
        _print(asyncio.run(dry_run_movement(_settings(), movement_id, doc, erp)))
    except (VoucherError, CostingError) as exc:
        err.print(f"[red]cannot build a voucher:[/red] {exc}")
        raise typer.Exit(1) from None


@vouchers_app.command("post-pending")
def post_pending() -> None:
    """Scan new movements into vouchers, then post every pending voucher now (in this process)."""
    from sqlalchemy import select

    from hub.bootstrap import build_hub
    from hub.jobs.executor import RetryLater
    from hub.storage.models_vouchers import VoucherPosting
    from hub.vouchers.jobs import post_posting, run_scan

    async def run() -> dict[str, Any]:
        hub = await build_hub(_settings(), run_jobs=False)
        try:
            scans = await run_scan(hub.ctx)
            async with hub.sessionmaker() as session:
                ids = list((await session.execute(select(VoucherPosting.id).where(VoucherPosting.status == "pending")
                                                  .order_by(VoucherPosting.id))).scalars())  # fmt: skip
            outcomes: dict[str, int] = {}
            for pid in ids:
                try:
                    status = (await post_posting(hub.ctx, pid)).status
                except RetryLater:
                    status = "retry_later"
                outcomes[status] = outcomes.get(status, 0) + 1
            blocked = next((s.blocked for s in scans if s.blocked), None)
            return {"new_vouchers": sum(len(s.voucher_ids) for s in scans), "cursor": scans[-1].cursor,
                    "blocked": blocked, "postings": outcomes}  # fmt: skip
        finally:
            await hub.close()

    _print(asyncio.run(run()))


@vouchers_app.command("reconcile")
def reconcile_period(
    period: Annotated[str, typer.Option(help="YYYY-MM")],
    erp: Annotated[str, typer.Option(help="ERP source name.")],
) -> None:
    """Ledger stock value vs vouchers posted vs the ERP's read-back; exit 1 when there are differences."""
    from hub.bootstrap import build_hub
    from hub.domain.errors import HubError
    from hub.vouchers.config import load_config
    from hub.vouchers.reconcile import reconcile

    async def run() -> dict[str, Any]:
        settings = _settings()
        hub = await build_hub(settings, run_jobs=False)
        try:
            return await reconcile(hub.sessionmaker, settings, load_config(settings, hub.ctx.extras), period, erp)
        finally:
            await hub.close()

    try:
        report = asyncio.run(run())
    except HubError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    _print(report)
    if report["differences"]:
        raise typer.Exit(1)
