"""Candidate watchlist terms found in source documents, with counts and the sentence.

    documents | sentences | extract (names, acronyms, quoted, phrases) | count

Four kinds, from plain text with no language model:
- names: runs of capitalised words joined by particles (de, la, del, of, for),
  so "Andrés Manuel López Obrador" and "Ley de Seguridad Nacional" stay whole;
  titles ("President", "embajador") drop off, and so does a sentence's first
  word when the documents also use it in lower case ("Recent", "The");
- acronyms of 2-5 capitals, with the words they stand for when the text spells
  them out: "Drug Enforcement Administration (DEA)", "DEA (Drug ...)";
- quoted nicknames and coinages of 1-4 words: “El Mayo”, “goalkeeper”;
- lower-case phrases of 2-4 words that recur (in two documents or more, when
  there are several) and neither start nor end with an English or Spanish
  stopword: "security cooperation", "war on drugs".
Titles, bylines and list labels are not mined, though matches in them count.
Counts are whole-word matches as the matcher counts them (token keys from
`textnorm`: case, accents, possessives and plurals folded; acronyms only in
capitals), so a count predicts what the term would catch.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.core.errors import UserError
from monitor.seeds.sentences import Sentence, TermCounter, plain, sentences_of, word
from monitor.seeds.words import DEMONYMS, PARTICLES, STOPWORDS, TITLES
from monitor.text.textnorm import Token, tokenize

ACRONYM, QUOTED, NAME, PHRASE = "acronym", "quoted", "name", "phrase"
KINDS = (NAME, ACRONYM, QUOTED, PHRASE)  # the order of the draft's sections
_QUOTED = re.compile(
    r"“([^”\n]{1,80})”|«([^»\n]{1,80})»|\"([^\"\n]{1,80})\"|(?<!\w)‘([^’\n]{1,80})’"
)
_ROMAN = re.compile(r"^[IVXLC]+$")
MAX_QUOTED_WORDS = 4
EMPHASIS_RATIO = 3  # a quoted common word seen this many times unquoted is emphasis, not a name


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Candidate:
    term: str
    kind: str
    count: int  # whole-word matches across all documents
    documents: int  # how many documents have one
    source: str  # the document of the first match
    sentence: str  # the sentence of the first match (in running text when there is one)
    expansion: str = ""  # what an acronym stands for, when the text spells it out
    expansion_count: int = 0
    order: int = 0  # position of the first match, for stable sorting


@dataclass(slots=True)
class _Raw:
    kind: str
    spellings: Counter = field(default_factory=Counter)
    expansion: str = ""
    upper: bool = False  # an acronym: count only capitalised occurrences
    quoted: int = 0


Raw = dict[tuple[str, ...], _Raw]  # candidates by their word keys, as they are found


def find_candidates(documents: Sequence[Document], min_count: int = 2) -> list[Candidate]:
    """Every candidate term seen at least `min_count` times (quoted ones: once)."""
    sentences = [s for i, d in enumerate(documents) for s in sentences_of(i, d.text)]
    lower = {t.key for s in sentences for t in s.tokens if t.original.islower()}
    raw: Raw = {}
    for sentence in sentences:
        if not sentence.heading:
            _acronyms(sentence, raw)
            _quoted(sentence, raw)
            _names(sentence, raw, lower)
    counter = TermCounter(sentences)
    _phrases(sentences, raw, min_count, several=len(documents) > 1)
    found = []
    for key, entry in raw.items():
        candidate = _candidate(key, entry, counter, documents, min_count)
        if candidate is not None:
            found.append(candidate)
    return sorted(found, key=lambda c: (KINDS.index(c.kind), -c.count, c.order))


def _candidate(
    key: tuple[str, ...],
    entry: _Raw,
    counter: TermCounter,
    documents: Sequence[Document],
    min_count: int,
) -> Candidate | None:
    match = counter.count(key[1:] if entry.upper else key, entry.upper)
    if match.count < (1 if entry.kind == QUOTED or entry.expansion else min_count):
        return None
    if entry.kind == NAME and match.lower_tail * 2 > match.count:
        return None  # mostly written in lower case: a common phrase, not a name
    if entry.kind == QUOTED and len(key) == 1 and match.count > EMPHASIS_RATIO * entry.quoted:
        return None  # “operations” quoted once among thirty: emphasis
    expansion = counter.count(tuple(t.key for t in tokenize(entry.expansion)), False)
    return Candidate(
        term=entry.spellings.most_common(1)[0][0],
        kind=entry.kind,
        count=match.count,
        documents=match.documents,
        source=documents[match.sentence.doc].name if match.sentence else "",
        sentence=match.quote,
        expansion=entry.expansion,
        expansion_count=expansion.count if entry.expansion else 0,
        order=match.order,
    )


def read_documents(path: Path) -> list[Document]:
    """The *.txt and *.md files of a folder (or one file), decoded as UTF-8."""
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.iterdir() if p.suffix in (".txt", ".md") and p.is_file())
    )
    if not files:
        raise UserError(f"{path}: no .txt or .md documents here")
    documents = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UserError(f"{file}: cannot read: {exc.strerror}") from exc
        documents.append(Document(file.name, text))
    return documents


# -- extraction ------------------------------------------------------------------------
def _add(raw: Raw, kind: str, spelling: str, upper: bool = False, expansion: str = "") -> None:
    words = tuple(t.key for t in tokenize(spelling))
    if not words:
        return
    key = ("\0upper", *words) if upper else words
    entry = raw.setdefault(key, _Raw(kind, upper=upper))
    if kind == QUOTED:  # the author's own signal outranks how the words look
        entry.kind, entry.quoted = QUOTED, entry.quoted + 1
    elif kind == NAME and entry.kind == PHRASE:
        entry.kind = NAME
    entry.spellings[spelling] += 1
    entry.expansion = entry.expansion or expansion


def _acronyms(sentence: Sentence, raw: Raw) -> None:
    tokens, text = sentence.tokens, sentence.text
    for i, token in enumerate(tokens):
        acronym = word(token)
        if not (2 <= len(acronym) <= 5 and acronym.isalpha() and acronym.isupper()):
            continue
        if _ROMAN.match(acronym):
            continue
        expansion = ""
        if text[token.start - 1 : token.start] == "(" and text[token.end : token.end + 1] == ")":
            expansion = _spelled_out(acronym, tokens[:i], text, backwards=True)
        elif text[token.end : token.end + 2] == " (":
            close = text.find(")", token.end)
            inside = [t for t in tokens[i + 1 :] if t.end <= close]
            expansion = _spelled_out(acronym, inside, text, backwards=False)
        _add(raw, ACRONYM, acronym, upper=True, expansion=expansion)


def _spelled_out(acronym: str, words: list, text: str, backwards: bool) -> str:
    """The words beside an acronym whose initials spell it, else the capitalised
    name right before "(ACRONYM)" (a translation: Jalisco New Generation Cartel (CJNG))."""
    for size in range(len(acronym), min(len(words), 2 * len(acronym) + 2) + 1):
        run = words[-size:] if backwards else words[:size]
        if plain(run[0]) in PARTICLES or plain(run[-1]) in PARTICLES:
            continue
        main = [t for t in run if plain(t) not in PARTICLES]
        if all(t.original[:1].isupper() for t in main) and (
            "".join(t.original[0] for t in main).upper() == acronym
        ):
            return text[run[0].start : run[-1].end]
    if not backwards:
        return ""
    run = []
    for token in reversed(words):
        joined = not run or not text[token.end : run[0].start].strip(" -")
        if not joined or not (_is_cap(token) or plain(token) in PARTICLES):
            break
        run.insert(0, token)
    while run and plain(run[0]) in PARTICLES:
        run.pop(0)
    return text[run[0].start : run[-1].end] if len(run) >= 2 else ""


def _quoted(sentence: Sentence, raw: Raw) -> None:
    for match in _QUOTED.finditer(sentence.text, sentence.start, sentence.end):
        inner = next(g for g in match.groups() if g is not None).strip(" ,.;:!?")
        words = tokenize(inner)
        if 1 <= len(words) <= MAX_QUOTED_WORDS and not all(plain(t) in STOPWORDS for t in words):
            _add(raw, QUOTED, inner)


def _long_quotes(sentence: Sentence) -> list[tuple[int, int]]:
    """Spans of quoted titles (more than four words): their capitals are not names."""
    spans = []
    for match in _QUOTED.finditer(sentence.text, sentence.start, sentence.end):
        if len(match.group().split()) > MAX_QUOTED_WORDS:
            spans.append(match.span())
    return spans


def _names(sentence: Sentence, raw: Raw, lower: set[str]) -> None:
    titles = _long_quotes(sentence)
    run: list = []
    for token in [*sentence.tokens, None]:
        if token is not None and any(a <= token.start < b for a, b in titles):
            token = None  # a quoted title ends the run like punctuation does
        # a name goes on across spaces and hyphens and ends at a possessive
        joined = (
            run
            and token is not None
            and not sentence.text[run[-1].end : token.start].strip(" -")
            and word(run[-1]) == run[-1].original
        )
        if joined and token is not None and (_is_cap(token) or plain(token) in PARTICLES):
            run.append(token)
            continue
        _add_name(run, sentence, raw, lower)
        run = [token] if token is not None and _is_cap(token) else []


def _is_cap(token: Token) -> bool:
    text = word(token)
    return text[:1].isupper() and not text.isupper() and text[:1].isalpha()


def _add_name(run: list[Token], sentence: Sentence, raw: Raw, lower: set[str]) -> None:
    at_start = bool(run) and run[0].start == sentence.tokens[0].start
    while run and plain(run[-1]) in PARTICLES:
        run = run[:-1]
    while run and (
        plain(run[0]) in PARTICLES
        or plain(run[0]) in STOPWORDS
        or (at_start and run[0].start == sentence.tokens[0].start and run[0].key in lower)
        # "General Cienfuegos" -> "Cienfuegos", but "Secretaría de la Defensa" is an office
        or (plain(run[0]) in TITLES and len(run) > 1 and plain(run[1]) not in PARTICLES)
    ):
        run = run[1:]
    if not run:
        return
    if len(run) == 1:
        single = plain(run[0])
        if at_start:
            return  # "Furthermore", "Expert Insight": capitalised for opening the sentence
        if run[0].key in lower or len(single) < 3 or single in STOPWORDS | DEMONYMS | TITLES:
            return
    _add(raw, NAME, sentence.text[run[0].start : run[-1].start] + word(run[-1]))
    cut = next((i for i, t in enumerate(run) if plain(t) in PARTICLES), 0)
    if cut >= 2:  # "Bicentennial Framework" out of "Bicentennial Framework for Security"
        _add(raw, NAME, sentence.text[run[0].start : run[cut - 1].end])


def _phrases(sentences: list[Sentence], raw: Raw, min_count: int, several: bool) -> None:
    """Lower-case n-grams (2-4 words) inside one clause, kept when they recur."""
    grams: Counter = Counter()
    docs: dict[tuple[str, ...], set[int]] = {}
    spelled: dict[tuple[str, ...], str] = {}
    for sentence in sentences:
        if sentence.heading:
            continue
        tokens = sentence.tokens
        for i in range(len(tokens)):
            for size in range(1, 5):
                run = tokens[i : i + size]
                if len(run) < size or not _plain_word(run, sentence):
                    break
                if size == 1 or plain(run[0]) in STOPWORDS or plain(run[-1]) in STOPWORDS:
                    continue
                key = tuple(t.key for t in run)
                grams[key] += 1
                docs.setdefault(key, set()).add(sentence.doc)
                spelled.setdefault(key, " ".join(t.original for t in run))
    kept = {k: n for k, n in grams.items() if n >= min_count and len(docs[k]) >= 1 + several}
    for key, n in kept.items():
        if any(len(k) > len(key) and kept[k] >= n and _contains(k, key) for k in kept):
            continue  # always inside a longer phrase: that one is listed
        if key not in raw:
            raw[key] = _Raw(PHRASE, Counter({spelled[key]: n}))


def _plain_word(run: list, sentence: Sentence) -> bool:
    """The run's last word is a lower-case word joined to the one before by a space or hyphen."""
    last = run[-1]
    if not (last.original.islower() and last.original.isalpha() and len(last.key) > 1):
        return False
    return len(run) == 1 or not sentence.text[run[-2].end : last.start].strip(" -")


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    n = len(shorter)
    return any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))
