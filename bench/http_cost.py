"""What one HTTP request costs the client's Python, by transport (CPU time of this process only).

    python -m bench.http_cost            # 1,500 POSTs to a Shopify sandbox, one at a time and 16 at a time

Why :func:`connectors.base.async_client` puts httpx's API on aiohttp's transport: a worker pushing to
several shops and fetching order details spends most of its CPU in the HTTP client.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from connectors.base import async_client
from connectors.testing.sandbox_server import run_sandbox_process


async def _cost(client: httpx.AsyncClient, n: int, concurrency: int) -> tuple[float, float]:
    async with client:
        await client.get("/_sandbox/stock")
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, n, concurrency):
            await asyncio.gather(*(client.post("/_sandbox/settings", json={"n": i})
                                   for i in range(start, min(n, start + concurrency))))  # fmt: skip
        return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1500, help="requests per way")
    n = ap.parse_args().n
    kwargs = {"app_key": "k", "app_secret": "s", "access_token": "t", "hub_url": None}
    with run_sandbox_process("connectors.shopify.sandbox:create_app", kwargs) as url:
        print(f"{'transport':<34} {'in flight':>9} {'µs CPU/request':>15} {'µs wall/request':>16}")
        for concurrency in (1, 16):
            for label, make in (("httpx's own (httpcore over anyio)", lambda: httpx.AsyncClient(base_url=url)),
                                ("aiohttp (connectors.base)", lambda: async_client(base_url=url))):  # fmt: skip
                cpu, wall = asyncio.run(_cost(make(), n, concurrency))
                print(f"{label:<34} {concurrency:>9} {cpu:>15.0f} {wall:>16.0f}")


if __name__ == "__main__":
    main()
