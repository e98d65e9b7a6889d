"""Storage's boundary: whatever a public method does, a sqlite3 error leaves it as a
StoreError naming the database (as lemon24/reader's storage tests each method)."""

from __future__ import annotations

import inspect
import sqlite3
from datetime import UTC, datetime

import pytest

from monitor.core.errors import StoreError
from monitor.storage import Store
from monitor.storage.base import StorageBase

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def public_methods():
    return [
        name
        for name, value in inspect.getmembers(Store, inspect.isfunction)
        if not name.startswith("_") and value.__qualname__.split(".")[0] != "StorageBase"
    ]


def test_every_public_method_of_every_mixin_wraps_foreign_errors():
    names = public_methods()
    assert len(names) > 60  # the mixins' methods are all seen
    assert [n for n in names if not getattr(getattr(Store, n), "wraps_errors", False)] == []


def test_a_mixin_added_later_is_wrapped_too():
    class Extra(StorageBase):
        def broken(self) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    extra = Extra.__new__(Extra)
    extra.path = "x.db"
    with pytest.raises(StoreError, match=r"database error \(x.db\): disk I/O error"):
        extra.broken()


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.feeds_due(NOW),
        lambda s: s.feed_rows(),
        lambda s: s.articles_since(NOW),
        lambda s: s.hits_after(0),
        lambda s: s.outbox_due_chats(NOW),
        lambda s: s.subscriptions(),
        lambda s: s.votes(),
        lambda s: s.search("sheinbaum"),
        lambda s: s.status_counts(NOW),
        lambda s: s.record_fetch("https://f.example/rss", NOW, ok=True, status=200),
    ],
)
def test_a_damaged_database_is_a_store_error_not_a_sqlite3_error(tmp_path, call):
    path = tmp_path / "monitor.db"
    store = Store(path)
    raw = sqlite3.connect(path)
    for table in ("feeds", "articles", "hits", "outbox", "subscriptions", "votes", "chats"):
        raw.execute(f"DROP TABLE IF EXISTS {table}")
    raw.execute("DROP TABLE IF EXISTS articles_fts")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as caught:
        call(store)
    assert not isinstance(caught.value, sqlite3.Error) and str(path) in str(caught.value)
    store.close()
