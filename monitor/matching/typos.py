"""Typo tolerance: how many typos a term word allows, and its deletion neighbourhood.

Shared by the matcher (which indexes the deletions) and the term checks (which warn
about words too short to tolerate a typo), so the two can never disagree.
"""

from __future__ import annotations

import math

MIN_FUZZY_LEN = 5  # shorter words must match exactly
MAX_TYPOS = 2
# No real word is longer, and `watchlists check` rejects longer term words: typo tolerance
# stops here, so a term word never builds a deletion index that grows with the cube of
# its length. A 2,000-letter term once took 21 s and 4 GB to compile.
MAX_WORD_LETTERS = 40


def allowed_typos(length: int, fuzzy: int) -> int:
    """How many typos a term word of `length` letters tolerates at `fuzzy`."""
    if fuzzy >= 100 or length < MIN_FUZZY_LEN or length > MAX_WORD_LETTERS:
        return 0
    if fuzzy <= 0:
        return MAX_TYPOS
    return min(MAX_TYPOS, math.floor(length * (100 - fuzzy) / fuzzy + 1e-9))


def deletions(word: str, depth: int) -> set[str]:
    """`word` and every string reachable from it by at most `depth` deletions."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out
