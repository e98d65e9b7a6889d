"""`monitor run`: build the runtime and run the scheduler until SIGTERM/SIGINT.

Without TELEGRAM_BOT_TOKEN the bot is off and alerts and digests go to the
console sink through the same outbox.
"""

from __future__ import annotations

import logging

from .cli import build_runtime, telegram_token
from .config import Config
from .scheduler import run_until_stopped
from .worker import sync_config_feeds

log = logging.getLogger(__name__)


async def run_worker(config: Config) -> int:
    token = telegram_token()
    if token:
        log.warning(
            "TELEGRAM_BOT_TOKEN is set but this build has no Telegram bot yet; "
            "alerts go to the console"
        )
    rt = build_runtime(config)
    sync_config_feeds(rt)
    try:
        await run_until_stopped(rt)
    finally:
        rt.store.close()
    return 0
