"""Candidate terms -> a commented TOML draft to paste into a watchlist.

Each kind of candidate becomes a `[[topics]]` skeleton; each term a line with
how often it was seen and the sentence it comes from. Terms the current
watchlists already match, and common words that would flood a topic, are
commented out with the reason, so the draft stays valid TOML as printed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from monitor.core.models import Article
from monitor.matching.library import compile_matcher
from monitor.matching.termcheck import term_noise
from monitor.matching.watchlists import Watchlist
from monitor.seeds.candidates import ACRONYM, KINDS, NAME, PHRASE, QUOTED, Candidate

SECTIONS = {
    NAME: ("names", "Names: people, organisations, programmes"),
    ACRONYM: ("acronyms", "Acronyms and what they stand for"),
    QUOTED: ("quoted", "Quoted nicknames and coinages"),
    PHRASE: ("phrases", "Recurring phrases"),
}


def covered_by(terms: Sequence[str], watchlists: Sequence[Watchlist]) -> dict[str, list[str]]:
    """term -> the watchlist/topic pairs that an article made of the term alone would hit."""
    matcher = compile_matcher(watchlists)
    found = {}
    for term in terms:
        hits = matcher.match(Article(id="term", feed_url="", url="", title=term))
        if hits:
            found[term] = [f"{h.watchlist}/{h.topic}" for h in hits]
    return found


def render_draft(
    candidates: Sequence[Candidate],
    source: str,
    documents: int,
    covered: dict[str, list[str]] | None,
    min_count: int,
    limit: int = 25,
) -> str:
    lines = [
        f"# Candidate watchlist terms found in {source} ({documents} documents)"
        " by `monitor seeds suggest`.",
        "# seen N×: whole-word matches as the matcher counts them (case, accents, possessives",
        "# and plurals folded; acronyms only in capitals). Names and phrases seen at least",
        f"# {min_count}×, quoted terms and spelled-out acronyms at least once.",
        "# Commented-out terms are common words, or are already matched by the watchlists"
        if covered is not None
        else "# Commented-out terms are common words (no watchlists were given to compare with).",
    ]
    if covered is not None:
        lines.append("# (the topic that matches them is named).")
    lines += [
        "# Copy what you need into a watchlist topic, then run",
        "#   monitor watchlists check FILE   and   monitor backtest FILE",
    ]
    for kind in KINDS:
        group = [c for c in candidates if c.kind == kind]
        if group:
            lines += ["", *_section(kind, group, covered or {}, limit)]
    if not candidates:
        lines += ["", f"# No candidates seen {min_count}× or more."]
    return "\n".join(lines) + "\n"


def _section(
    kind: str, group: list[Candidate], covered: dict[str, list[str]], limit: int
) -> list[str]:
    topic_id, title = SECTIONS[kind]
    rows = [(c, _reason(c.term, covered)) for c in group]
    rows.sort(key=lambda row: row[1] != "")  # stable: active terms first, by count
    shown = rows if limit <= 0 else rows[:limit]
    lines = [
        "[[topics]]",
        f'id = "{topic_id}"  # a draft: one topic per person, programme or subject',
        f"title = {_quote(title)}",
        'priority = "normal"',
        "terms = [",
    ]
    for candidate, reason in shown:
        lines.append(_term_line(candidate.term, reason, _seen(candidate)))
        if candidate.expansion:
            seen = f"spells out {candidate.term}, seen {candidate.expansion_count}×"
            lines.append(
                _term_line(candidate.expansion, _reason(candidate.expansion, covered), seen)
            )
    if len(rows) > len(shown):
        lines.append(f"    # … {len(rows) - len(shown)} more (--limit 0 lists all)")
    lines.append("]")
    return lines


def _reason(term: str, covered: dict[str, list[str]]) -> str:
    if term in covered:
        return "matched by " + ", ".join(covered[term])
    if term_noise(term):
        return "common words alone flood a topic (use it in all_of)"
    return ""


def _term_line(term: str, reason: str, seen: str) -> str:
    text = f"{_quote(term)},"
    if reason:
        return f"    # {text}  # {reason}; {seen}"
    return f"    {text}  # {seen}"


def _seen(candidate: Candidate) -> str:
    where = (
        candidate.source
        if candidate.documents == 1
        else f"{candidate.documents} files, first {candidate.source}"
    )
    sentence = " ".join(candidate.sentence.split())
    return f'seen {candidate.count}× in {where}: "{sentence}"'


def _quote(text: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)
