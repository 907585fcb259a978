"""Hand-keyed figures: a CSV or XLSX sheet under a named source goes through the inbox like any event."""

from __future__ import annotations

import io
import uuid

import httpx
from openpyxl import Workbook

from tests.support.hubserver import HubServer
from tests.support.seed import wait_processed


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_csv_and_xlsx_uploads_become_observations_of_their_source(hub_server: HubServer) -> None:
    sku = f"U-{uuid.uuid4().hex[:8]}"
    csv = f"sku,location,stock_type,quantity,counted_at\n{sku},STORE-1,物理库存,7,2026-11-01 09:00:00\n".encode()
    xlsx = _xlsx([["sku", "location", "stock_type", "quantity"], [sku, "STORE-2", "damaged", 2]])
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        for name, content in (("count.csv", csv), ("count.xlsx", xlsx)):
            r = await client.post("/api/v1/observations/upload", data={"source": "manual_store_9"},
                                  files={"file": (name, content)})  # fmt: skip
            assert r.status_code == 202, r.text
            [event] = await wait_processed(client, [r.json()["raw_event_id"]])
            assert event["status"] == "processed", event
        cells = (await client.get("/api/v1/cube", params={"sku": sku})).json()["cells"]
        got = {(c["source"], c["location"], c["stock_type"], c["quantity"]) for c in cells}
        assert {("manual_store_9", "STORE-1", "on_hand", 7), ("manual_store_9", "STORE-2", "damaged", 2)} <= got


async def test_a_bad_sheet_is_refused_naming_the_row_and_stores_nothing(hub_server: HubServer) -> None:
    sku = f"U-{uuid.uuid4().hex[:8]}"
    bad = f"sku,location,stock_type,quantity\n{sku},S,on_hand,7\n{sku},S,on_hand,seven\n".encode()
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        r = await client.post("/api/v1/observations/upload", data={"source": "manual_store_9"},
                              files={"file": ("count.csv", bad)})  # fmt: skip
        assert r.status_code == 422 and "row 3" in r.json()["detail"] and "seven" in r.json()["detail"]
        r = await client.post("/api/v1/observations/upload", data={"source": "manual_store_9"},
                              files={"file": ("count.pdf", b"%PDF")})  # fmt: skip
        assert r.status_code == 422 and ".csv or .xlsx" in r.json()["detail"]
        r = await client.post("/api/v1/observations/upload", data={"source": "Bad Name!"},
                              files={"file": ("count.csv", b"sku\n")})  # fmt: skip
        assert r.status_code in (400, 422)
        assert (await client.get("/api/v1/cube", params={"sku": sku})).json()["cells"] == []
