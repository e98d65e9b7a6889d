"""Logging: one line per event, `time level logger message key=value ...`.

The Telegram token must never reach a log line: httpx and python-telegram-bot
log request URLs, and the Bot API puts the token in the URL, so a filter
masks it wherever it appears.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


class RedactToken(logging.Filter):
    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret:
            message = record.getMessage()
            if self.secret in message:
                record.msg = message.replace(self.secret, "<token>")
                record.args = ()
            if record.exc_info and not record.exc_text:  # a traceback may quote a URL too
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text and self.secret in record.exc_text:
                record.exc_text = record.exc_text.replace(self.secret, "<token>")
        return True


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    handler.addFilter(RedactToken(os.environ.get("TELEGRAM_BOT_TOKEN")))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler.executors.default",
        "apscheduler.scheduler",
        "telegram.ext.Updater",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
