"""The titles of the last 48 hours, in about an eighth of the memory of a dict (pure).

`TitleIndex` (titles.py) files each title under its neighbourhood, about nine
hashes, in a dict of Python objects: about 800 bytes a title, 73 MB for the
90,000 titles 2,000 feeds bring in two days. That is the right shape for one
batch; for the whole window this module keeps only what a lookup needs:

- one 64-bit slot per filing in an open-addressing table (`array('Q')`, linear
  probing, at most three quarters full): 32 bits of the hash (a fingerprint, which also
  places the slot, so a rebuild can place it again) and the title's row number
  (its rowid, counted from `_base`, plus one: 0 is an empty slot);
- the rowid of each stored batch's first title, with its time, for pruning.

No ids and no title text: `candidates` returns the rowids filed under a title's
neighbourhood, and the caller reads those rows back to apply the Jaccard rule. A
fingerprint collision (one lookup in tens of thousands) costs one such read.
Titles leave by age: slots older than the window's first rowid are skipped, and
dropped whenever the table is rebuilt (when it grows past three quarters full,
or when most of it has expired).
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass

from monitor.text.titles import filing

MIN_CAPACITY = 1024
# Linear probing reads about 8 slots for an unsuccessful lookup at three quarters full
# (2.5 at half full): 13 µs a lookup against 11, and filing 90,000 titles 1.6 s against
# 1.2, once. The table is most of the service's data, and it is a quarter smaller for it:
# 1.3-2 slots a filing (1.5 on average) against 2-4 when it grew by doubling at half full.
MAX_LOAD = 0.75
GROWTH = 2  # a rebuilt table holds its live slots at half its capacity (or less)
GROW_AT_LEAST = 1.5  # a table that grows grows by half at least
# A hash holds at most this many titles: the part a template repeats all day shares
# ("Lottery results for …", "Live updates: …", titles one number apart). More would make
# one long run of slots, probed at every title filed, and a read of all of them at every
# lookup. What is lost is rare: a later title equal to that shared part, one word short.
PER_HASH = 32
_LOW32 = 0xFFFF_FFFF
_LOW64 = 0xFFFF_FFFF_FFFF_FFFF


@dataclass(slots=True)
class _Batch:
    """Titles stored at one moment, in rowid order: how pruning finds where the window starts."""

    seen_at: str
    first_rowid: int
    titles: int = 0
    slots: int = 0


class RecentTitles:
    """Rowids of recent titles by neighbourhood hash; `candidates` says which to read back."""

    __slots__ = ("_table", "_filled", "_expired", "_base", "_start", "_batches", "_live", "last")

    def __init__(self) -> None:
        self._table = array("Q", [0]) * MIN_CAPACITY
        self._filled = 0  # slots in use, expired ones included
        self._expired = 0  # slots of titles that left the window, until a rebuild drops them
        self._base = 0  # slot offsets count from this rowid (so they fit in 32 bits)
        self._start = 0  # the first rowid still in the window
        self._batches: deque[_Batch] = deque()
        self._live = 0
        self.last = 0  # the highest rowid added: the caller tops up from here

    def __len__(self) -> int:
        """The titles in the window."""
        return self._live

    @property
    def capacity(self) -> int:
        return len(self._table)

    def add(self, rowid: int, key: str, seen_at: str) -> None:
        """File a stored title; rows come in rowid order, each once (older ones are ignored)."""
        if rowid <= self.last:
            return
        self.last = rowid
        if not self._batches:  # an empty window starts here
            self._start = rowid
        hashes = filing(key)[1]
        if (self._filled + len(hashes)) > MAX_LOAD * len(self._table):
            live = self._filled - self._expired + len(hashes)
            self._rebuild(max(int(GROWTH * live), int(GROW_AT_LEAST * len(self._table))))
        offset = rowid - self._base + 1
        if offset > _LOW32:  # 4 billion rows since the window's start: move the base
            self._rebuild(GROWTH * (self._filled - self._expired + len(hashes)), base=self._start)
            offset = rowid - self._base + 1
            if offset > _LOW32:
                return  # more than 4 billion titles in the window: this one is not filed
        batch = self._batches[-1] if self._batches else None
        if batch is None or batch.seen_at != seen_at:
            batch = _Batch(seen_at, rowid)
            self._batches.append(batch)
        batch.titles += 1
        batch.slots += sum(self._put(value, offset) for value in hashes)
        self._live += 1

    def candidates(self, key: str) -> list[int]:
        """Rowids in the window filed under one of `key`'s neighbourhood hashes: the titles
        that may be the same story, to be read back and compared."""
        table, capacity = self._table, len(self._table)
        start = self._start - self._base + 1
        found: list[int] = []
        for value in filing(key)[1]:
            fingerprint = _fingerprint(value)
            index = (fingerprint * capacity) >> 32
            while slot := table[index]:
                offset = slot & _LOW32
                if slot >> 32 == fingerprint and offset >= start:
                    rowid = offset + self._base - 1
                    if rowid not in found:
                        found.append(rowid)
                index += 1
                if index == capacity:
                    index = 0
        return found

    def prune(self, since: str) -> None:
        """Let go of the titles stored before `since` (an ISO time). A batch stored out of
        order (another worker's clock) waits for the ones before it: the caller's read back
        checks the time too."""
        while self._batches and self._batches[0].seen_at < since:
            gone = self._batches.popleft()
            self._live -= gone.titles
            self._expired += gone.slots
        self._start = self._batches[0].first_rowid if self._batches else self.last + 1
        if len(self._table) > MIN_CAPACITY and self._expired > self._filled / 2:
            self._rebuild(GROWTH * (self._filled - self._expired))  # give the memory back

    def _put(self, value: int, offset: int) -> int:
        """File one hash; 0 when it holds PER_HASH titles already (see PER_HASH), else 1."""
        fingerprint = _fingerprint(value)
        table, capacity = self._table, len(self._table)
        index, same = (fingerprint * capacity) >> 32, 0
        while slot := table[index]:
            if slot >> 32 == fingerprint:
                same += 1
                if same >= PER_HASH:
                    return 0
            index += 1
            if index == capacity:
                index = 0
        table[index] = fingerprint << 32 | offset
        self._filled += 1
        return 1

    def _rebuild(self, capacity: int, base: int | None = None) -> None:
        """A table of `capacity` slots (or MIN_CAPACITY) with the slots still in the window."""
        old, start = self._table, self._start - self._base + 1
        shift = 0 if base is None else base - self._base
        if base is not None:
            self._base = base
        self._table = table = array("Q", [0]) * max(MIN_CAPACITY, capacity)
        capacity = len(table)
        filled = 0
        for slot in old:
            if slot and slot & _LOW32 >= start:
                index = ((slot >> 32) * capacity) >> 32
                while table[index]:
                    index += 1
                    if index == capacity:
                        index = 0
                table[index] = slot - shift
                filled += 1
        self._filled, self._expired = filled, 0


def _fingerprint(value: int) -> int:
    """32 bits of a (64-bit, signed) hash: folded, so both halves count."""
    hashed = value & _LOW64
    return (hashed >> 32) ^ (hashed & _LOW32)
