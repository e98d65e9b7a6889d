"""Storage: the SQLite database, the only package that knows SQL.

Owns the schema and its migrations and one mixin per aggregate (feeds, articles,
hits, outbox, chats, votes, search, operations); imports only core and text.

Writes that belong together happen in one transaction (`Store.transaction`):
a feed's new articles, their hits, their outbox rows and the feed's new
ETag/Last-Modified commit together or not at all, so a crash mid-cycle loses
nothing and duplicates nothing.
"""

from __future__ import annotations

from monitor.storage.articles import ArticlesMixin
from monitor.storage.base import StorageBase, store_error
from monitor.storage.chats import ChatsMixin
from monitor.storage.feeds import FeedsMixin
from monitor.storage.hits import HitsMixin
from monitor.storage.migrate import MigrationsMixin
from monitor.storage.operations import OperationsMixin
from monitor.storage.outbox import OutboxMixin
from monitor.storage.records import HitRow
from monitor.storage.search import SNIPPET_CLOSE, SNIPPET_OPEN, SearchMixin, fts_query
from monitor.storage.votes import VotesMixin

__all__ = ["HitRow", "SNIPPET_CLOSE", "SNIPPET_OPEN", "Store", "fts_query", "store_error"]


class Store(
    FeedsMixin,
    ArticlesMixin,
    HitsMixin,
    OutboxMixin,
    ChatsMixin,
    VotesMixin,
    SearchMixin,
    OperationsMixin,
    MigrationsMixin,
    StorageBase,
):
    """The database, opened and migrated. Split into one mixin per aggregate: add a
    new method to the mixin of the table it is about."""
