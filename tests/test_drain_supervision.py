"""One chat's failure stays that chat's (issue 13).

Before, the drain gathered the chats' tasks without `return_exceptions`: an OSError in
one chat's send ended the drain at once, cleared the "being sent to" set while the
other chats' tasks kept sending, and the next drain sent their rows again; shutdown
then saw no drain in flight and stopped the bot mid-send.
"""

from __future__ import annotations

import asyncio

from conftest import outbox_rows

from monitor.core.models import OutboxMessage
from monitor.delivery.drain import DrainState, drain_outbox


class FlakySink:
    """Chat "a" fails with an error no one planned for; chat "b" is slow and fine."""

    name = "flaky"

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def accepts(self, chat_id: str) -> bool:
        return chat_id in {"a", "b"}

    async def send(self, message: OutboxMessage) -> None:
        if message.chat_id == "a":
            raise OSError("disk on fire")
        await asyncio.sleep(0.05)
        self.sent.append((message.chat_id, message.payload["n"]))


def test_a_failing_chat_neither_stops_nor_orphans_the_others(store, clock):
    for n in range(5):
        store.enqueue("b", "notice", f"b:{n}", {"n": n}, clock.now)
    store.enqueue("a", "notice", "a:0", {"n": 0}, clock.now)
    sink, state = FlakySink(), DrainState()

    async def scenario():
        drain = asyncio.create_task(drain_outbox(store, [sink], lambda: clock.now, state=state))
        await asyncio.sleep(0.02)
        during = state.active  # what shutdown waits on
        report = await drain
        again = await drain_outbox(store, [sink], lambda: clock.now, state=state)
        return during, report, again

    during, report, again = asyncio.run(scenario())
    assert during == 1 and state.active == 0
    assert (report.sent, report.errors) == (5, 1)
    assert sink.sent == [("b", n) for n in range(5)]  # each once, in order
    assert again.sent == 0  # the second drain repeats nothing
    [row] = [r for r in outbox_rows(store) if r["chat_id"] == "a"]
    assert row["status"] == "pending" and "OSError: disk on fire" in row["error"]
    assert row["next_attempt_at"] > clock.now.isoformat()  # retried later, not in a loop
