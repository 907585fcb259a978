"""The YonBIP (用友) sandbox as a Litestar app: open-auth token + GL voucher open APIs + operator endpoints.

Platform endpoints (research/platforms.md §6):
    GET  /iuap-api-auth/open-auth/selfAppAuth/getAccessToken?appKey&timestamp(ms)&signature
    POST /yonbip/fi/ficloud/openapi/voucher/addVoucher?access_token=..     (top-level fields)
    POST /yonbip/fi/ficloud/openapi/voucher/queryVouchers?access_token=..  (pager, accbookCode, periodStart/End)
    POST /yonbip/EFI/openapi/voucher/queryVoucherById?access_token=..      {"voucherId": ..}
    POST /yonbip/fi/voucher/del?access_token=..                            {"ids": [..]}
Answers `{code, message, data}` with HTTP 200 (code "200" ok; "404" business refusal); a bad
token is `text/plain` 非法token; more than `calls_per_minute` voucher calls → HTTP 429.

Operator endpoints (not part of Yonyou): GET /_sandbox/vouchers, DELETE /_sandbox/vouchers/{id},
POST /_sandbox/knobs {"timeout_after_save":1,"timeout_seconds":2}, POST /_sandbox/periods
{"book":"ZS01","period":"2024-01","closed":true}, POST /_sandbox/accounts {"number":..,"name":..},
POST /_sandbox/tokens/expire, GET /_sandbox/log, GET /_sandbox/stock, POST /_sandbox/faults,
POST /_sandbox/events (422: vouchers events are not emitted).
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from typing import Any

from litestar import Litestar, Request, Response, get, post

from connectors.testing.erp_operator import erp_operator_routes, stall_after_save
from connectors.testing.operator import Faults, RequestLog
from connectors.testing.operator_routes import bad_request, operator_routes
from connectors.yonyou import signing
from connectors.yonyou.sandbox.state import YonError, YonyouState

TOKEN_TTL = 7200
TIMESTAMP_WINDOW_MS = 10 * 60 * 1000


def _env(code: str, message: str, data: Any = None, status: int = 200) -> Response[bytes]:
    body = {"code": code, "message": message, "data": {} if data is None else data}
    return Response(json.dumps(body, ensure_ascii=False).encode(), status_code=status,
                    media_type="application/json;charset=UTF-8")


def create_app(
    *,
    app_key: str,
    app_secret: str,
    hub_url: str | None = None,
    accbooks: dict[str, str] | None = None,
    subjects: dict[str, str] | None = None,
    closed_periods: list[tuple[str, str]] | None = None,
    calls_per_minute: int = 40,
    token_ttl: int = TOKEN_TTL,
) -> Litestar:
    """Build a YonBIP sandbox for one self-built app. `hub_url` is accepted for the common
    signature but unused (BIP event subscription is encrypted and not emulated)."""
    state = YonyouState()
    if accbooks is not None:
        state.accbooks = dict(accbooks)
    if subjects is not None:
        state.subjects = dict(subjects)
    state.closed = {(b, p) for b, p in closed_periods or []}
    log, faults = RequestLog(), Faults()
    calls: deque[float] = deque()

    def logged(request: Request[Any, Any, Any], raw: bytes) -> dict[str, Any]:
        return log.add(method=request.method, path=request.url.path, query=request.url.query or "",
                       body=raw, headers=dict(request.headers))

    async def fault() -> Response[bytes] | None:
        kind = await faults.play()
        if kind is None:
            return None
        if kind == "rate_limit":
            return Response(json.dumps({"code": "429", "message": "请求过于频繁,超出API调用频率限制", "data": {}},
                                       ensure_ascii=False).encode(), status_code=429,
                            media_type="application/json;charset=UTF-8", headers={"Retry-After": "1"})
        if kind == "auth":
            return Response("非法token".encode(), media_type="text/plain;charset=UTF-8")
        if kind == "server":
            return _env("500", "服务器内部错误", status=500)
        if kind == "not_found":
            return _env("310404", "API不存在或未发布", status=404)
        return _env("400", "参数错误")

    @get("/iuap-api-auth/open-auth/selfAppAuth/getAccessToken")
    async def get_token(request: Request[Any, Any, Any]) -> Response[bytes]:
        entry = logged(request, b"")
        params = dict(request.query_params)
        answer = await fault() or token_answer(params)
        entry["status"] = answer.status_code
        return answer

    def token_answer(params: dict[str, str]) -> Response[bytes]:
        key, ts, sig = params.get("appKey", ""), params.get("timestamp", ""), params.get("signature", "")
        if not key or not ts or not sig:
            return _env("400", "appKey、timestamp、signature不能为空")
        if key != app_key:
            return _env("400", f"应用[{key}]不存在或未授权")
        if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > TIMESTAMP_WINDOW_MS:
            return _env("400", "timestamp已过期,请使用当前时间的毫秒时间戳")
        expected = signing.token_signature_raw(app_key, app_secret, ts)
        if not (secrets.compare_digest(sig, expected) or secrets.compare_digest(sig, signing.token_signature(
                app_key, app_secret, ts))):
            return _env("400", "签名验证失败,请检查appSecret及签名算法")
        token = secrets.token_hex(16)
        state.tokens[token] = time.time() + token_ttl
        return _env("00000", "成功！", {"access_token": token, "expire": token_ttl})

    async def guarded(request: Request[Any, Any, Any], handler: Any) -> Response[bytes]:
        raw = await request.body()
        entry = logged(request, raw)
        answer = await fault()
        if answer is None:
            token = request.query_params.get("access_token", "")
            if state.tokens.get(token, 0) < time.time():
                answer = Response("非法token".encode(), media_type="text/plain;charset=UTF-8")
        if answer is None and calls_per_minute:
            now = time.monotonic()
            while calls and now - calls[0] >= 60:
                calls.popleft()
            if len(calls) >= calls_per_minute:
                wait = max(1, int(60 - (now - calls[0])) + 1)
                answer = Response(json.dumps({"code": "429", "message": "请求过于频繁,超出API调用频率限制",
                                              "data": {}}, ensure_ascii=False).encode(), status_code=429,
                                  media_type="application/json;charset=UTF-8", headers={"Retry-After": str(wait)})
            else:
                calls.append(now)
        if answer is None:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                answer = _env("400", "请求体不是有效的JSON对象")
            else:
                try:
                    answer = await handler(body)
                except YonError as exc:
                    answer = _env(exc.code, exc.message)
        entry["status"] = answer.status_code
        return answer

    async def add_voucher(body: dict[str, Any]) -> Response[bytes]:
        voucher = state.add(body)
        answer = _env("200", "OK", {k: v for k, v in voucher.record().items() if k != "bodies"})
        await stall_after_save(state)
        return answer

    async def query_vouchers(body: dict[str, Any]) -> Response[bytes]:
        return _env("200", "OK", state.query(body))

    async def by_id(body: dict[str, Any]) -> Response[bytes]:
        voucher = state.vouchers.get(str(body.get("voucherId", "")))
        if voucher is None:
            raise YonError(f"凭证[{body.get('voucherId')}]不存在", "404")
        return _env("200", "OK", voucher.record())

    async def remove(body: dict[str, Any]) -> Response[bytes]:
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids:
            raise YonError("删除失败,ids不能为空", "400")
        missing = [i for i in ids if i not in state.vouchers]
        if missing:
            raise YonError(f"删除失败,凭证{missing}不存在", "404")
        for i in ids:
            state.vouchers.pop(i)
        return _env("200", "OK", {"count": len(ids)})

    @post("/yonbip/fi/ficloud/openapi/voucher/addVoucher", status_code=200)
    async def add_route(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await guarded(request, add_voucher)

    @post("/yonbip/fi/ficloud/openapi/voucher/queryVouchers", status_code=200)
    async def query_route(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await guarded(request, query_vouchers)

    @post("/yonbip/EFI/openapi/voucher/queryVoucherById", status_code=200)
    async def by_id_route(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await guarded(request, by_id)

    @post("/yonbip/fi/voucher/del", status_code=200)
    async def del_route(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await guarded(request, remove)

    @post("/_sandbox/tokens/expire", status_code=200)
    async def expire_tokens() -> dict[str, int]:
        n = len(state.tokens)
        state.tokens.clear()
        return {"expired": n}

    @get("/_sandbox/stock")
    async def stock() -> dict[str, Any]:
        """An ERP holds no channel stock; the closest figure is the GL balance per subject."""
        balances: dict[str, float] = {}
        for v in state.vouchers.values():
            for b in v.bodies:
                code = str(b["accsubjectCode"])
                balances[code] = balances.get(code, 0.0) + b["debitOrg"] - b["creditOrg"]
        return {"stock": {}, "balances": balances}

    @post("/_sandbox/events", status_code=200)
    async def events() -> Response[Any]:
        return bad_request("the Yonyou sandbox emits no events (BIP event subscription is not emulated)", 422)

    operator = erp_operator_routes(state, chart=lambda: state.subjects, numeric_ids=False,
                                   listed=lambda: [v.record() for v in state.vouchers.values()])
    return Litestar(route_handlers=[get_token, add_route, query_route, by_id_route, del_route, *operator,
                                    expire_tokens, stock, events, *operator_routes(log, faults)], debug=False)
