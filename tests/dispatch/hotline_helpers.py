"""Builders for 12345 tests: a work order, the platform's key, and a signed client (the fake platform's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.dispatch.worktime import CST
from tests.dispatch.helpers import GARBAGE, INSIDE

APP_KEY, APP_SECRET = "hl-test-0001", "hl-test-secret-for-the-platform-0001"


def work_order(order_no: str = "GD202611210001", **kw: Any) -> dict[str, Any]:
    """A 12345 work order about exposed rubbish inside grid 320411001001001 (routed to CGJ)."""
    now = datetime.now(CST)
    return {
        "order_no": order_no,
        "received_at": (now - timedelta(minutes=3)).isoformat(),
        "caller_name": "王先生",
        "caller_phone": "13912345678",
        "appeal_type": "投诉",
        "content": f"市民来电反映：{GARBAGE}，希望相关部门尽快处理。",
        "address": "三井街道龙锦路18号附近",
        **INSIDE,
        "urgency": "一般",
        "deadline_at": (now + timedelta(days=10)).isoformat(),
        "attachments": ["https://12345.example.gov.cn/files/rec-0001.mp3"],
        **kw,
    }


async def install_key(app: Any, maker: Any, app_key: str = APP_KEY, secret: str = APP_SECRET) -> None:
    from services.dispatch.hotline.keys import create_key

    async with maker() as s:
        await create_key(s, app.state.sealer, actor="test", app_key=app_key, secret=secret)
        await s.commit()
    app.state.hotline_keys.forget()
