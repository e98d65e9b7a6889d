"""Issue 12, finding 2: pathological watchlist terms are rejected, and cheap anyway.

A 2,000-letter term and "ab" × 1000 took 21 s and 4.2 GB to compile, and
`watchlists check` accepted them.
"""

from __future__ import annotations

from conftest import run_monitor

from monitor.matching import matcher as matcher_module
from monitor.matching.matcher import Matcher
from monitor.matching.termcheck import MAX_TERM_WORDS, MAX_WORD_LETTERS
from monitor.matching.watchlists import Topic, Watchlist

HEADER = '[watchlist]\nid = "w"\ntitle = "W"\n\n'


def topic(number: int, terms: str) -> str:
    return f'[[topics]]\nid = "t{number}"\ntitle = "T"\nterms = [{terms}]\n\n'


def test_watchlists_check_rejects_pathological_terms_with_file_and_line(tmp_path):
    long_word = "".join(chr(97 + (i * 7) % 26) for i in range(2_000))
    sentence = " ".join(["palabra"] * (MAX_TERM_WORDS + 1))
    source = (
        HEADER
        + topic(1, f'"{long_word}"')  # line 5
        + topic(2, f'"{"ab" * 1000}"')  # line 10
        + topic(3, f'"{sentence}"')  # line 15
        + topic(4, '"Sheinbaum", "Plan Mérida"')  # line 20: fine
    )
    path = tmp_path / "w.toml"
    path.write_text(source, encoding="utf-8")
    done = run_monitor("watchlists", "check", str(path), cwd=tmp_path, timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(str(path))]
    assert [line.split(":")[1] for line in errors] == ["8", "13", "18"]
    assert "2,000 letters" in errors[0] and "longer than any real word" in errors[0]
    assert "at most 12" in errors[2]
    assert max(map(len, errors)) < 300  # the term is quoted short, not in full


def test_a_term_word_longer_than_any_real_word_builds_no_typo_index(monkeypatch):
    built = []
    real = matcher_module._deletions

    def counting(word: str, depth: int) -> set[str]:
        built.append(len(word))
        return real(word, depth)

    monkeypatch.setattr(matcher_module, "_deletions", counting)
    word = "".join(chr(97 + (i * 7) % 26) for i in range(MAX_WORD_LETTERS + 1))
    watchlist = Watchlist("w", "W", (Topic("t", "T", terms=(word, "Sheinbaum"), fuzzy=80),))
    matcher = Matcher([watchlist])
    assert built == [len("sheinbaum")]
    assert matcher.words[0] == word
