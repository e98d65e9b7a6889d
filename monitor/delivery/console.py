"""The console sink: alerts and digests printed as readable blocks.

Used when no Telegram token is set; rows are addressed to chat id `console`.
"""

from __future__ import annotations

import sys
from typing import TextIO
from zoneinfo import ZoneInfo

from monitor.core.models import OutboxMessage
from monitor.core.outbox import ALERT, CONSOLE_CHAT
from monitor.delivery.render import render_alert_text

RULE = "─" * 72


class ConsoleSink:
    name = "console"

    def __init__(self, default_tz: ZoneInfo, stream: TextIO | None = None) -> None:
        self.default_tz = default_tz
        self.stream = stream

    def accepts(self, chat_id: str) -> bool:
        return chat_id == CONSOLE_CHAT

    async def send(self, message: OutboxMessage) -> None:
        stream = self.stream or sys.stdout
        payload = message.payload
        if "text" in payload:  # rendered when queued
            body = payload["text"]
        elif message.kind == ALERT:  # an alert queued by a version that rendered at send time
            tz = ZoneInfo(payload.get("timezone") or self.default_tz.key)
            body = "ALERT " + render_alert_text(payload, tz)
        else:
            body = ""
        stream.write(f"{RULE}\n{body}\n")
        stream.flush()
