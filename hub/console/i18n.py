"""Every string the console shows, one dict per language. Templates call ``t("key")``.

The language comes from the ``lang`` cookie (``en`` default, ``zh``); a key missing in one language falls
back to English and then to the key itself, so a forgotten translation shows up as readable text.
"""

from __future__ import annotations

LANGS = ("en", "zh")
DEFAULT_LANG = "en"

EN: dict[str, str] = {
    "app": "Zhongshu ops console",
    "nav.overview": "Overview", "nav.sku": "SKU explorer", "nav.lineage": "Lineage",
    "nav.conflicts": "Conflicts & quarantine", "nav.sync": "Sync & deliveries", "nav.vouchers": "Vouchers",
    "nav.rules": "Rules", "nav.logout": "Log out", "nav.lang": "中文",
    "login.title": "Log in", "login.username": "Username", "login.password": "Password", "login.submit": "Log in",
    "login.failed": "Wrong username or password.",
    "login.locked": "Too many wrong passwords for this username: try again in {seconds} s.", "login.unavailable": "Log-in is not configured on this hub.",
    "role": "role",
    "overview.sources": "Source instances", "overview.source": "Source", "overview.platform": "Platform",
    "overview.trust": "Trust", "overview.last_event": "Last event", "overview.errors": "Errors",
    "overview.events": "Events", "overview.per_minute": "Events per minute (last hour)",
    "overview.raw_by_status": "Raw events by status", "overview.quarantine": "In quarantine",
    "overview.jobs_by_state": "Jobs by state", "overview.dead_jobs": "Dead jobs", "overview.registered": "registered",
    "overview.unregistered": "seen in events only", "overview.total": "Total",
    "sku.search": "Search", "sku.placeholder": "sku or platform order ref", "sku.matches": "Matches",
    "sku.none": "Nothing found for", "sku.cube": "Stock-state cube", "sku.grain": "Grain",
    "grain.realtime": "latest", "grain.hour": "hour", "grain.day": "day",
    "sku.conflict": "sources disagree", "sku.balances": "Ledger balances", "sku.movements": "Recent movements",
    "sku.views": "Views", "sku.account": "Account", "sku.qty": "Qty", "sku.version": "Version",
    "sku.updated": "Updated", "sku.kind": "Kind", "sku.from": "From", "sku.to": "To", "sku.when": "When",
    "sku.view": "View", "sku.value": "Value", "sku.formula": "Formula", "sku.inputs": "Inputs",
    "sku.not_recorded": "not recorded yet", "sku.orders": "Orders", "sku.location": "Location",
    "sku.noncanonical": "as the source said it", "sku.empty": "No observations for this sku yet.",
    "lineage.title": "Lineage", "lineage.upstream": "Upstream: what it came from",
    "lineage.downstream": "Downstream: what it caused", "lineage.node": "Node", "lineage.open": "open",
    "lineage.goto": "Open a node", "lineage.none": "nothing", "lineage.depth": "depth",
    "node.headers": "Headers", "node.body": "Body", "node.status": "Status", "node.error": "Error",
    "node.verification": "Verification", "node.received": "Received", "node.topic": "Topic",
    "node.rule": "Mapping rule", "node.observation": "Observation", "node.decision": "Decision",
    "node.movement": "Movement", "node.view": "View evaluation", "node.data": "Data", "node.source": "Source",
    "node.field": "Field", "node.observed": "Observed at", "node.replay": "Replay this event",
    "node.replayed": "Replayed", "node.masked": "secrets masked",
    "conflicts.pending": "Waiting for a person", "conflicts.none": "The quarantine is empty.",
    "conflicts.claims": "Competing claims", "conflicts.rule": "Rule", "conflicts.reason": "Reason",
    "conflicts.proposed": "Proposed", "conflicts.ledger_now": "Ledger now", "conflicts.approve": "Approve",
    "conflicts.reject": "Reject", "conflicts.why": "Reason (required)", "conflicts.recent": "Recently resolved",
    "conflicts.resolved_by": "Resolved by", "conflicts.before": "Ledger before", "conflicts.after": "Ledger after",
    "conflicts.cell": "Cell", "conflicts.value": "Value", "conflicts.trust": "Trust", "conflicts.status": "Status",
    "push.dead": "Dead-lettered pushes (platform refused)", "push.recent": "Recent pushes to channels",
    "push.listing": "Listing", "push.target": "Target", "push.mode": "Sent", "push.latency": "ms",
    "push.why": "Why this figure", "push.response": "Platform answer", "push.retried": "Re-push queued",
    "push.latency_title": "Push latency p50 / p99", "push.drift": "drift",
    "sync.jobs": "Jobs", "sync.dead": "Dead-lettered jobs", "sync.pending": "Pending jobs", "sync.retry": "Retry",
    "sync.retried": "Back in the queue", "sync.name": "Job", "sync.key": "Key", "sync.attempts": "Attempts",
    "sync.last_error": "Last error", "sync.run_at": "Runs at", "sync.none": "None.",
    "sync.not_yet": "This section appears once its table exists on this hub.", "sync.state": "State",
    "vouchers.title": "Vouchers",
    "rules.mappings": "Mapping rules", "rules.dictionary": "Semantic dictionary", "rules.views": "Views",
    "rules.arbitration": "Arbitration rules", "rules.dryrun": "Dry run", "rules.connector": "Connector",
    "rules.topic": "Topic", "rules.payload": "Payload (JSON)", "rules.run": "Show what it would emit",
    "rules.source": "Source instance (optional)", "rules.observations": "Observations", "rules.orders": "Orders",
    "rules.deltas": "Deltas", "rules.errors": "Errors", "rules.unmapped": "No rule matches",
    "rules.canonical": "Canonical observations", "rules.yaml": "YAML",
    "rules.class": "Class", "rules.tolerance": "Tolerance", "rules.meaning": "Meaning", "rules.label": "Label",
    "rules.claim": "Recorded as",
    "error.title": "Something is wrong", "error.forbidden": "Your role may not do this.",
    "error.notfound": "Not found", "back": "Back", "yes": "yes", "no": "no",
}

ZH: dict[str, str] = {
    "app": "中枢 运维控制台",
    "nav.overview": "总览", "nav.sku": "SKU 查询", "nav.lineage": "数据血缘",
    "nav.conflicts": "冲突与隔离", "nav.sync": "同步与投递", "nav.vouchers": "凭证",
    "nav.rules": "规则", "nav.logout": "退出", "nav.lang": "English",
    "login.title": "登录", "login.username": "用户名", "login.password": "密码", "login.submit": "登录",
    "login.failed": "用户名或密码错误。", "login.locked": "该用户名密码错误次数过多，请 {seconds} 秒后再试。", "login.unavailable": "本中枢尚未配置登录。",
    "role": "角色",
    "overview.sources": "数据源实例", "overview.source": "数据源", "overview.platform": "平台",
    "overview.trust": "可信度", "overview.last_event": "最近事件", "overview.errors": "错误",
    "overview.events": "事件数", "overview.per_minute": "每分钟事件数(近一小时)",
    "overview.raw_by_status": "原始事件(按状态)", "overview.quarantine": "隔离中",
    "overview.jobs_by_state": "任务(按状态)", "overview.dead_jobs": "死信任务", "overview.registered": "已登记",
    "overview.unregistered": "仅见于事件", "overview.total": "合计",
    "sku.search": "查询", "sku.placeholder": "SKU 或平台订单号", "sku.matches": "匹配结果",
    "sku.none": "未找到", "sku.cube": "库存状态立方体", "sku.grain": "粒度",
    "grain.realtime": "最新", "grain.hour": "小时", "grain.day": "日",
    "sku.conflict": "数据源不一致", "sku.balances": "台账余额", "sku.movements": "最近流水",
    "sku.views": "视图", "sku.account": "账户", "sku.qty": "数量", "sku.version": "版本",
    "sku.updated": "更新时间", "sku.kind": "类型", "sku.from": "来源", "sku.to": "去向", "sku.when": "时间",
    "sku.view": "视图", "sku.value": "值", "sku.formula": "公式", "sku.inputs": "输入",
    "sku.not_recorded": "尚未记录", "sku.orders": "订单", "sku.location": "库位",
    "sku.noncanonical": "按数据源原义", "sku.empty": "该 SKU 暂无观测数据。",
    "lineage.title": "数据血缘", "lineage.upstream": "上游:数据从何而来",
    "lineage.downstream": "下游:引起了什么", "lineage.node": "节点", "lineage.open": "展开",
    "lineage.goto": "打开节点", "lineage.none": "无", "lineage.depth": "层级",
    "node.headers": "请求头", "node.body": "报文", "node.status": "状态", "node.error": "错误",
    "node.verification": "验签", "node.received": "接收时间", "node.topic": "主题",
    "node.rule": "映射规则", "node.observation": "观测", "node.decision": "仲裁决定",
    "node.movement": "台账流水", "node.view": "视图计算", "node.data": "数据", "node.source": "数据源",
    "node.field": "字段", "node.observed": "观测时间", "node.replay": "重放此事件",
    "node.replayed": "已重放", "node.masked": "敏感信息已遮蔽",
    "conflicts.pending": "待人工处理", "conflicts.none": "隔离区为空。",
    "conflicts.claims": "相互矛盾的声明", "conflicts.rule": "规则", "conflicts.reason": "原因",
    "conflicts.proposed": "建议值", "conflicts.ledger_now": "台账当前值", "conflicts.approve": "批准",
    "conflicts.reject": "驳回", "conflicts.why": "理由(必填)", "conflicts.recent": "最近处理",
    "conflicts.resolved_by": "处理人", "conflicts.before": "处理前台账", "conflicts.after": "处理后台账",
    "conflicts.cell": "单元", "conflicts.value": "值", "conflicts.trust": "可信度", "conflicts.status": "状态",
    "push.dead": "推送死信(平台拒绝)", "push.recent": "最近的渠道库存推送",
    "push.listing": "渠道商品", "push.target": "目标值", "push.mode": "发送", "push.latency": "毫秒",
    "push.why": "该数值的由来", "push.response": "平台应答", "push.retried": "已重新排队推送",
    "push.latency_title": "推送延迟 p50 / p99", "push.drift": "偏差",
    "sync.jobs": "任务", "sync.dead": "死信任务", "sync.pending": "待执行任务", "sync.retry": "重试",
    "sync.retried": "已重新入队", "sync.name": "任务", "sync.key": "键", "sync.attempts": "尝试次数",
    "sync.last_error": "最近错误", "sync.run_at": "执行时间", "sync.none": "无。",
    "sync.not_yet": "该数据表在本中枢建立后,此处才会显示。", "sync.state": "状态",
    "vouchers.title": "凭证",
    "rules.mappings": "映射规则", "rules.dictionary": "语义字典", "rules.views": "视图",
    "rules.arbitration": "仲裁规则", "rules.dryrun": "试运行", "rules.connector": "连接器",
    "rules.topic": "主题", "rules.payload": "报文(JSON)", "rules.run": "查看将产生的结果",
    "rules.source": "数据源实例(可选)", "rules.observations": "观测", "rules.orders": "订单",
    "rules.deltas": "增量", "rules.errors": "错误", "rules.unmapped": "没有匹配的规则",
    "rules.canonical": "规范化观测", "rules.yaml": "YAML",
    "rules.class": "类别", "rules.tolerance": "容差", "rules.meaning": "含义", "rules.label": "名称",
    "rules.claim": "记录为",
    "error.title": "出错了", "error.forbidden": "您的角色无权执行此操作。",
    "error.notfound": "未找到", "back": "返回", "yes": "是", "no": "否",
}

STRINGS: dict[str, dict[str, str]] = {"en": EN, "zh": ZH}


def pick_lang(cookie: str | None) -> str:
    return cookie if cookie in LANGS else DEFAULT_LANG


def translator(lang: str):  # type: ignore[no-untyped-def]
    """``t(key)`` for one language: that language, else English, else the key itself."""
    table = STRINGS.get(lang, EN)

    def t(key: str) -> str:
        return table.get(key) or EN.get(key) or key

    return t
