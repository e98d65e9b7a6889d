"""The fast Matcher against an obvious, slow reference of the same rules.

The Matcher skips work (a token cache, candidate-word sets, topics woken only by
their rarest words); none of that may change which topics match. The reference
below checks every pattern at every token with rapidfuzz directly, and both run
over seeded synthetic articles (benchmarks/corpus.py: names, phrases, acronyms,
all_of windows, excludes, injected typos) and over both labeled sets.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

import pytest
from rapidfuzz.distance import OSA

from monitor.core.models import Article
from monitor.matching.matcher import Matcher, allowed_typos
from monitor.matching.watchlists import Topic, load_watchlists
from monitor.text.textnorm import (
    TOKEN_RE,
    fold,
    is_acronym,
    is_upper_word,
    sentence_ends,
    token_key,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.corpus import make_corpus  # noqa: E402


@cache
def _words(term: str, fuzzy: int) -> list[tuple[str, bool, int]]:
    folded = fold(term)
    out = []
    for m in TOKEN_RE.finditer(folded):
        raw = term[m.start() : m.end()]
        key, acronym = token_key(m.group()), is_acronym(raw)
        named = raw[:1].isupper() and key.isalpha() and not acronym  # typos in names only
        out.append((key, acronym, allowed_typos(len(key), fuzzy) if named else 0))
    return out


@cache
def _word_matches(word: tuple[str, bool, int], key: str, original: str) -> bool:
    want, acronym, typos = word
    if acronym:
        return key == want and is_upper_word(original)
    if key == want:
        return True
    return bool(typos) and key.isalpha() and OSA.distance(key, want) <= typos


def _positions(term: str, fuzzy: int, tokens) -> list[int]:
    words = _words(term, fuzzy)
    keys = {t[2] for t in tokens}
    for want, _, typos in words:  # a word that occurs nowhere: skip the scan (keeps it fast)
        if want not in keys and not (
            typos and any(OSA.distance(k, want, score_cutoff=typos) <= typos for k in keys)
        ):
            return []
    return [
        tokens[i][0]
        for i in range(len(tokens) - len(words) + 1)
        if all(
            tokens[i + j][1] == tokens[i][1]  # one field
            and _word_matches(w, tokens[i + j][2], tokens[i + j][3])
            for j, w in enumerate(words)
        )
    ]


SENTENCES: dict[int, str] = {}  # position -> (field, sentence number), filled by reference_tokens


def reference_tokens(article: Article) -> list[tuple[int, str, str, str]]:
    tokens, offset = [], 0  # (position, field, key, original)
    SENTENCES.clear()
    for field, text in (("t", article.title), ("s", article.summary), ("c", article.content)):
        folded = fold(text)
        spans = [m.span() for m in TOKEN_RE.finditer(folded)]
        ends = sentence_ends(text)
        for i, (a, b) in enumerate(spans):
            tokens.append((offset + i, field, token_key(folded[a:b]), text[a:b]))
            number = sum(1 for e in ends if e <= a)
            lede = field == "t" or (field == "s" and number == 0)  # the headline and its lede
            SENTENCES[offset + i] = "lede" if lede else f"{field}{number}"
        offset += len(spans)
    return tokens


def reference_rule(rule, fuzzy: int, tokens) -> bool:
    if any(_positions(t, 100, tokens) for t in rule.exclude):
        return False
    groups = [sorted(p for t in g for p in _positions(t, fuzzy, tokens)) for g in rule.all_of]
    if not all(groups):
        return False
    if rule.window == "sentence":  # every group in one sentence, however far apart
        return any(
            all(any(SENTENCES[p] == SENTENCES[q] for q in g) for g in groups) for p in groups[0]
        )
    best = min(
        max(min(p for p in g if p >= start) for g in groups) - start
        for start in sorted({p for g in groups for p in g})
        if all(any(p >= start for p in g) for g in groups)
    )
    return rule.window is None or best <= rule.window


def reference_matches(topic: Topic, tokens) -> bool:
    if any(_positions(t, 100, tokens) for t in topic.exclude):
        return False
    if any(_positions(t, topic.fuzzy, tokens) for t in topic.terms):
        return True
    return any(reference_rule(rule, topic.fuzzy, tokens) for rule in topic.all_rules)


def _compare(watchlists, articles) -> list[str]:
    matcher = Matcher(watchlists)
    problems = []
    for article in articles:
        got = {(h.watchlist, h.topic) for h in matcher.match(article)}
        tokens = reference_tokens(article)
        want = {(w.id, t.id) for w in watchlists for t in w.topics if reference_matches(t, tokens)}
        if got != want:
            problems.append(f"{article.id}: matcher {sorted(got)} reference {sorted(want)}")
    return problems


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matcher_agrees_with_reference_on_synthetic_articles(seed: int) -> None:
    corpus = make_corpus(n_articles=300, n_terms=200, seed=seed)
    problems = _compare(corpus.watchlists, corpus.articles)
    assert not problems, "\n".join(problems[:10])


@pytest.mark.parametrize("name", ["labeled_articles.jsonl", "heldout_articles.jsonl"])
def test_matcher_agrees_with_reference_on_labeled_sets(name: str) -> None:
    lines = (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines()
    articles = [
        Article(id=d["id"], feed_url="f", url="u", title=d["title"], summary=d["summary"])
        for d in map(json.loads, lines)
    ]
    problems = _compare(load_watchlists(ROOT / "watchlists"), articles)
    assert not problems, "\n".join(problems[:10])
