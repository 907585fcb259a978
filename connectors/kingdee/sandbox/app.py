"""The Kingdee K/3 Cloud sandbox as a Litestar app: WebAPI services + operator endpoints.

WebAPI: `POST {prefix}/{ServiceName}.common.kdsvc` (any prefix, e.g. `/k3cloud/`; service name
case-insensitive). Authentication as K/3 Cloud accepts it:
  * session: ValidateUser / LoginByAppSecret / LoginBySign set cookie `kdservice-sessionid`
    (also accepted as a request header, as the SDK sends it);
  * "第三方系统登录授权" signed headers on every request (what the official Python SDK does):
    X-Api-* checked like the gateway (HTTP 519 + errcode), X-Kd-* checked like the server.
No session and no signature → `MsgCode 1` "会话信息已丢失，请重新登录".

Operator endpoints (not part of Kingdee)::

    GET    /_sandbox/vouchers               every voucher (id, number, book, date, status, entries)
    DELETE /_sandbox/vouchers/{id}          remove a voucher behind the hub's back (reconciliation tests)
    POST   /_sandbox/knobs                  {"timeout_after_save": 1, "timeout_seconds": 2.0}
    POST   /_sandbox/periods                {"book": "001", "period": "2024-01", "closed": true}
    POST   /_sandbox/accounts               {"number": "1406", "name": "发出商品"}  (add to the chart)
    GET    /_sandbox/log | GET /_sandbox/stock | POST /_sandbox/faults | POST /_sandbox/events
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import Cookie

from connectors.kingdee import signing
from connectors.kingdee.sandbox.state import (
    MSG_PARAM,
    MSG_SESSION_LOST,
    KdError,
    KingdeeState,
    parse_data,
)
from connectors.testing.erp_operator import erp_operator_routes, stall_after_save
from connectors.testing.operator import Faults, RequestLog
from connectors.testing.operator_routes import bad_request, operator_routes

SERVICE_PREFIX = "kingdee.bos.webapi.servicesstub."
TIMESTAMP_WINDOW = 600  # seconds; the gateway refused a 13-minute-old timestamp (platforms.md §5.3)


def _status(errors: list[tuple[str | None, str]], msg_code: int) -> dict[str, Any]:
    return {"Result": {"ResponseStatus": {
        "ErrorCode": 500, "IsSuccess": False,
        "Errors": [{"FieldName": f, "Message": m, "DIndex": 0} for f, m in errors],
        "SuccessEntitys": [], "SuccessMessages": [], "MsgCode": msg_code}}}


def _json(body: Any, status: int = 200, cookies: dict[str, str] | None = None) -> Response[bytes]:
    return Response(json.dumps(body, ensure_ascii=False).encode(), status_code=status,
                    media_type="application/json; charset=utf-8",
                    cookies=[Cookie(key=k, value=v, path="/", httponly=True) for k, v in (cookies or {}).items()])


def create_app(
    *,
    app_key: str,
    app_secret: str,
    hub_url: str | None = None,
    acct_id: str = "zs-demo",
    users: dict[str, str] | None = None,
    accounts: dict[str, str] | None = None,
    books: dict[str, str] | None = None,
    closed_periods: list[tuple[str, str]] | None = None,
) -> Litestar:
    """Build a K/3 Cloud sandbox. `app_key` is the AppID (`<clientId>_<32-char base64>`),
    `app_secret` the AppSecret; `acct_id` the data centre (账套) id; `users` user → password
    (default administrator/888888, K/3 Cloud's default admin). `hub_url` is accepted for the
    common sandbox signature but unused: K/3 Cloud pushes nothing (the hub polls ExecuteBillQuery).
    """
    state = KingdeeState()
    if accounts is not None:
        state.accounts = dict(accounts)
    if books is not None:
        state.books = dict(books)
    state.closed = {(b, p) for b, p in closed_periods or []}
    users = dict(users or {"administrator": "888888"})
    sessions: dict[str, str] = {}
    log, faults = RequestLog(), Faults()

    def new_session(user: str) -> Response[bytes]:
        sid = secrets.token_hex(16)
        sessions[sid] = user
        return _json({
            "Message": None, "MessageCode": "CheckPasswordPolicy", "LoginResultType": 1,
            "Context": {"UserLocale": "zh-CN", "LogLocale": "zh-CN", "DBid": acct_id, "DatabaseType": 3,
                        "SessionId": sid, "UserId": 100000 + list(users).index(user), "UserName": user,
                        "CustomName": "中枢演示", "DisplayVersion": "8.2.0"},
            "KDSVCSessionId": sid, "FormId": None, "RedirectFormParam": None, "FormInputObject": None,
            "ErrorStackTrace": None, "Lcid": 0, "AccessToken": None, "CustomParam": {}, "IsSuccessByAPI": True,
        }, cookies={"kdservice-sessionid": sid, "ASP.NET_SessionId": secrets.token_hex(12)})

    def login_failed(message: str) -> Response[bytes]:
        return _json({"Message": message, "MessageCode": None, "LoginResultType": 0, "Context": None,
                      "KDSVCSessionId": None, "IsSuccessByAPI": False})

    def login(service: str, params: Any) -> Response[bytes]:
        if isinstance(params, dict):  # newer clients post named parameters
            params = [params.get(k) for k in ("acctID", "username", "password", "lcid")]
        if not isinstance(params, list) or len(params) < 4:
            return login_failed("登录参数不完整")
        acct, user = str(params[0]), str(params[1])
        if acct != acct_id:
            return login_failed(f"数据中心[{acct}]不存在")
        if user not in users:
            return login_failed("用户名或密码错误！")
        if service.endswith("validateuser"):
            ok = str(params[2]) == users[user]
            return new_session(user) if ok else login_failed("用户名或密码错误！")
        if service.endswith("loginbyappsecret"):
            ok = params[2] == app_key and params[3] == app_secret
            return new_session(user) if ok else login_failed("应用ID或应用密钥不正确，第三方系统登录授权验证失败")
        if len(params) < 6:
            return login_failed("登录参数不完整")
        app_id, ts, sign = str(params[2]), str(params[3]), str(params[4])
        if app_id != app_key or not ts.isdigit() or abs(time.time() - int(ts)) > TIMESTAMP_WINDOW:
            return login_failed("第三方系统登录授权验证失败：应用ID不正确或时间戳已过期")
        expected = signing.login_sign(acct, user, app_id, app_secret, ts)
        return new_session(user) if secrets.compare_digest(sign, expected) else login_failed(
            "第三方系统登录授权验证失败：签名不正确")

    def authorise(request: Request[Any, Any, Any]) -> Response[bytes] | None:
        sid = request.cookies.get("kdservice-sessionid") or request.headers.get("kdservice-sessionid")
        if sid and sid in sessions:
            return None
        h = request.headers
        if not h.get("x-kd-appkey"):
            return _json(_status([(None, "会话信息已丢失，请重新登录")], MSG_SESSION_LOST))
        client_id = h.get("x-api-clientid", "")
        if not client_id:
            return _json({"errcode": 4002, "description": "Unauthorized, APP_ID is empty[GW]"}, 519)
        ts = h.get("x-api-timestamp", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > TIMESTAMP_WINDOW:
            return _json({"errcode": 4006, "description": "X-Api-TimeStamp is invalid[GW]"}, 519)
        want_client, client_sec = signing.split_app_id(app_key)
        raw_path = request.scope.get("raw_path", b"").decode() or request.url.path
        expected = signing.api_signature(signing.signed_path(raw_path), ts, h.get("x-api-nonce", ""), client_sec)
        if client_id != want_client or not secrets.compare_digest(h.get("x-api-signature", ""), expected):
            return _json({"errcode": 4003, "description": "Unauthorized, signature is invalid[GW]"}, 519)
        try:
            data = base64.b64decode(h.get("x-kd-appdata", "")).decode()
        except ValueError:
            data = ""
        parts = data.split(",")
        good = (
            h.get("x-kd-appkey") == app_key and len(parts) == 4 and parts[0] == acct_id and parts[1] in users
            and secrets.compare_digest(h.get("x-kd-signature", ""), signing.kd_signature(app_key, app_secret, data))
        )
        if not good:
            return _json(_status([(None, "第三方系统登录授权验证失败：应用ID、应用密钥或账套信息不正确")], MSG_SESSION_LOST))
        return None

    def fault_answer(kind: str) -> Response[bytes]:
        if kind == "rate_limit":
            return _json({"errcode": 4029, "description": "Too many requests[GW]"}, 429)
        if kind == "server":
            return Response(b"Internal Server Error", status_code=500, media_type="text/plain")
        if kind == "auth":
            return _json(_status([(None, "会话信息已丢失，请重新登录")], MSG_SESSION_LOST))
        if kind == "not_found":
            return _json(_status([(None, "未找到对应的单据数据")], 10))
        return _json(_status([(None, "参数错误")], MSG_PARAM))

    async def business(service: str, body: dict[str, Any]) -> Response[bytes]:
        op = service.rsplit(".", 1)[-1]
        form_id, data = parse_data(body)
        if op == "executebillquery":
            data = data if isinstance(data, dict) else {}
            try:
                rows = state.query(str(data.get("FormId", form_id or "")), str(data.get("FieldKeys", "")),
                                   str(data.get("FilterString", "")), int(data.get("StartRow", 0) or 0),
                                   int(data.get("Limit", 0) or data.get("TopRowCount", 0) or 0))
            except KdError as exc:
                return _json([[_status(exc.errors, exc.msg_code)]])
            return _json(rows)
        if form_id != "GL_VOUCHER":
            raise KdError([("formid", f"业务对象[{form_id}]不存在或沙箱未实现")], 9)
        if not isinstance(data, dict):
            raise KdError([("data", "参数data不能为空")], MSG_PARAM)
        if op == "save":
            voucher = state.save(data.get("Model"))
            result = {"ResponseStatus": {"IsSuccess": True, "Errors": [],
                                         "SuccessEntitys": [{"Id": voucher.id, "Number": voucher.number, "DIndex": 0}],
                                         "SuccessMessages": [], "MsgCode": 0},
                      "Id": voucher.id, "Number": voucher.number,
                      "NeedReturnData": [{"FVOUCHERGROUPNO": str(voucher.group_no), "FBillNo": voucher.number}]}
            await stall_after_save(state)  # saved; the client gives up before this answer
            return _json({"Result": result})
        if op in ("submit", "audit", "unaudit", "delete"):
            found = state.find(data.get("Ids"), data.get("Numbers"))
            target = {"submit": "B", "audit": "C", "unaudit": "D"}
            for v in found:
                if op == "delete":
                    if v.status in ("B", "C"):
                        raise KdError([(None, f"凭证{v.number}已提交或已审核，不能删除")])
                    state.vouchers.pop(v.id, None)
                else:
                    v.status = target[op]
            return _json({"Result": {"ResponseStatus": {
                "IsSuccess": True, "Errors": [], "MsgCode": 0, "SuccessMessages": [],
                "SuccessEntitys": [{"Id": v.id, "Number": v.number, "DIndex": i} for i, v in enumerate(found)]}}})
        if op == "view":
            found = state.find(data.get("Id"), [data["Number"]] if data.get("Number") else None)
            return _json({"Result": {"ResponseStatus": None, "Result": found[0].view()}})
        raise KdError([(None, f"沙箱未实现服务[{service}]")], MSG_PARAM)

    @post("/{path:path}", status_code=200)
    async def webapi(request: Request[Any, Any, Any], path: str) -> Response[bytes]:
        raw = await request.body()
        entry = log.add(method="POST", path=request.url.path, query=request.url.query or "", body=raw,
                        headers=dict(request.headers))
        response = await _webapi(request, path, raw)
        entry["status"] = response.status_code
        return response

    async def _webapi(request: Request[Any, Any, Any], path: str, raw: bytes) -> Response[bytes]:
        name = path.rsplit("/", 1)[-1].lower()
        if not name.endswith(".common.kdsvc"):
            return Response(b"Not Found", status_code=404, media_type="text/plain")
        service = name[: -len(".common.kdsvc")]
        kind = await faults.play()
        if kind:
            return fault_answer(kind)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _json(_status([(None, "请求内容不是有效的JSON")], MSG_PARAM))
        if not isinstance(body, dict):
            body = {"parameters": body} if isinstance(body, list) else {}
        if service.startswith("kingdee.bos.webapi.servicesstub.authservice."):
            return login(service, body.get("parameters", body))
        denied = authorise(request)
        if denied is not None:
            return denied
        if service == "kingdee.bos.servicefacade.servicesstub.account.accountservice.getdatacenterlist":
            return _json([{"Id": acct_id, "Number": acct_id, "Name": "中枢演示账套", "DatabaseType": 3}])
        if not service.startswith(SERVICE_PREFIX + "dynamicformservice."):
            return _json(_status([(None, f"服务[{service}]不存在")], 9))
        try:
            return await business(service, body)
        except KdError as exc:
            return _json(_status(exc.errors, exc.msg_code))

    @get("/_sandbox/stock")
    async def stock() -> dict[str, Any]:
        """An ERP holds no channel stock; the closest figure is the GL balance per account."""
        balances: dict[str, float] = {}
        for v in state.vouchers.values():
            for e in v.entries:
                balances[e["_account"]] = balances.get(e["_account"], 0.0) + float(e["_debit"] - e["_credit"])
        return {"stock": {}, "balances": balances}

    @post("/_sandbox/events", status_code=200)
    async def events(request: Request[Any, Any, Any]) -> Response[Any]:
        return bad_request("the Kingdee sandbox emits no events: K/3 Cloud has no outbound push "
                           "(poll ExecuteBillQuery)", 422)

    operator = erp_operator_routes(
        state, chart=lambda: state.accounts, numeric_ids=True,
        listed=lambda: [v.view() for v in sorted(state.vouchers.values(), key=lambda x: x.id)],
    )
    return Litestar(route_handlers=[webapi, *operator, stock, events, *operator_routes(log, faults)], debug=False)
