"""The daily upkeep job: retention, then VACUUM-free housekeeping.

Articles that matched nothing are kept `[storage] keep_days` (default 90)
and then pruned; hits and the articles they point to are kept for good, as
are digests and votes. Work is done in small batches, each a short
transaction with a pause between, so a poll cycle waiting for the write lock
never waits long. No VACUUM: it rewrites the whole file under an exclusive
lock; SQLite reuses the freed pages anyway.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.storage import Store

log = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True, slots=True)
class HousekeepingReport:
    articles_pruned: int
    log_rows_pruned: int


async def run_housekeeping(store: Store, keep_days: int, now: datetime) -> HousekeepingReport:
    cutoff = now - timedelta(days=keep_days)
    pruned = 0
    while batch := store.prune_batch(cutoff, BATCH):
        pruned += batch
        await asyncio.sleep(0.05)  # let a waiting poll cycle take the lock
    logs = store.prune_logs(cutoff)
    store.optimize()
    log.info(
        "housekeeping done articles_pruned=%d log_rows_pruned=%d keep_days=%d",
        pruned,
        logs,
        keep_days,
    )
    return HousekeepingReport(pruned, logs)
