"""Folding and tokenising text for matching, with offsets into the original.

Folding is length-preserving (one character in, one character out) so a span
found in the folded text is the same span in the original: snippets and the
upper-case check for acronyms read the original at those offsets.

Decisions, each forced by real headlines:
- accents fold to their base letter (Mérida = Merida, López = Lopez);
- ñ folds to n as well, on both sides. Decided, not overlooked: English-language
  wires and accent-stripping feeds write "Pena Nieto" and "Nuno" for Peña Nieto
  and Nuño, and a term must find them. The pairs where ñ carries meaning
  (peña/pena "penalty", año/ano, caña/cana) only matter for a one-word term,
  so such a name goes in a watchlist as a phrase ("Peña Nieto", never "Peña");
- dotted acronyms are one token ("U.S." = "US", "EE.UU." = "EEUU");
- possessives drop ("DEA's", "Zambada’s", "agents'");
- simple plurals fold to the singular in both languages by stripping a final
  "s" and then a final "e" ("operaciones" = "operación", "agentes" = "agente",
  "cases" = "case"), and "-ies" to "-y" ("immunities" = "immunity"). The same
  function keys both the watchlist terms and the text, so only symmetry
  matters, not linguistic accuracy.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Characters mapped one-to-one so offsets survive folding.
_PUNCT_MAP = {
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u200b": " ",
    "\u0130": "i",  # İ lowercases to two characters; keep offsets aligned
}


def _build_fold_table() -> dict[int, str]:
    table = {ord(k): v for k, v in _PUNCT_MAP.items()}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if len(base) == 1 and base != char:
            table[code] = base
    return table


_FOLD_TABLE = _build_fold_table()

# A token: a run of word characters joined by apostrophes (O'Brien, DEA’s) or soft
# hyphens (HTML &shy;, "Shein&shy;baum" from justified web copy), or a dotted
# acronym (U.S., EE.UU.: the optional tail, written as a suffix because a
# separate alternative tried at every word costs a third more). It splits the
# original text and its folding identically (folding keeps letters letters and
# maps every apostrophe to '), so the matcher tokenises the original text and
# folds only the distinct tokens it has not seen before.
SOFT_HYPHEN = "\u00ad"
TOKEN_RE = re.compile(r"\w+(?:['\u2019\u2018\u00b4`\u00ad]\w+)*(?:\.(?:[^\W\d_]{1,2}\.)+)?")


def fold(text: str) -> str:
    """Lower-case, strip accents and unify quotes and dashes, keeping the length."""
    if text.isascii():  # most English text: only the backtick needs mapping
        return text.lower().replace("`", "'")
    folded = text.translate(_FOLD_TABLE).lower()
    if len(folded) != len(text):  # a rare character whose lower case is longer
        folded = "".join(
            c.lower() if len(c.lower()) == 1 else c for c in text.translate(_FOLD_TABLE)
        )
    if not folded.isascii():
        # letters outside Latin-1/Extended-A (e.g. Vietnamese) and combining marks
        folded = "".join(_fold_rare(c) for c in folded)
    return folded


def _fold_rare(char: str) -> str:
    if char.isascii():
        return char
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 else char


@lru_cache(maxsize=200_000)
def token_key(token: str) -> str:
    """The matching key of one folded token: no dots, no possessive, singular."""
    if "." in token:
        token = token.replace(".", "")
    if SOFT_HYPHEN in token:
        token = token.replace(SOFT_HYPHEN, "")
    if "'" in token:
        if token.endswith("'s"):
            token = token[:-2]
        token = token.replace("'", "")
    return singular(token)


def singular(word: str) -> str:
    """Fold a simple English or Spanish plural (and a final e) to one key."""
    if len(word) < 4 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class Token:
    """A token of a text: its key, the original spelling and where it is."""

    key: str
    original: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Tokens of `text` with keys and offsets into `text` itself."""
    folded = fold(text)
    return [
        Token(token_key(m.group()), text[m.start() : m.end()], m.start(), m.end())
        for m in TOKEN_RE.finditer(folded)
    ]


def fold_tokens(text: str) -> list[str]:
    """Just the folded tokens (no keys, no offsets): for title comparisons and digests."""
    return TOKEN_RE.findall(fold(text))


def is_upper_word(original: str) -> bool:
    """True for DEA, AMLO, U.S., DEA's and the plural DEAs: every letter upper case."""
    letters = [c for c in original if c.isalpha()]
    if original.endswith(("'s", "’s")) or (original.endswith("s") and len(letters) > 2):
        letters = letters[:-1]  # possessive, or an acronym's plural ("FTOs", "two DEAs")
    return bool(letters) and all(c.isupper() for c in letters)


def is_acronym(term_word: str) -> bool:
    """An all-caps word of at most four letters in a watchlist term (DEA, CJNG, US)."""
    letters = term_word.replace(".", "").removesuffix("'s").removesuffix("’s")
    return 1 <= len(letters) <= 4 and letters.isalpha() and letters.isupper()


def snippet_around(text: str, start: int, end: int, width: int = 200) -> str:
    """About `width` characters of `text` centred on [start, end), cut at word boundaries."""
    text_len = len(text)
    if text_len <= width:
        return " ".join(text.split())
    slack = max(width - (end - start), 0)
    left = max(start - slack // 2, 0)
    right = min(end + slack - (start - left), text_len)
    left = max(min(left, right - width), 0)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    if right < text_len:
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    piece = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + piece + ("…" if right < text_len else "")


# A sentence ends at . ! or ? followed by a space (or the end), past any closing quote or
# bracket. Not after a capital letter alone ("U.S.", "EE.UU.", initials: "J. Smith") nor
# after a title written short ("Gen. Cienfuegos", "Sr. López"): those stay one sentence.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’»)\]]*(?=\s|$)")
_SHORT_TITLES = frozenset(
    [
        "gen",
        "gral",
        "mr",
        "mrs",
        "ms",
        "dr",
        "sr",
        "sra",
        "srta",
        "lic",
        "sen",
        "rep",
        "gov",
        "col",
        "lt",
        "sgt",
        "st",
        "jr",
        "no",
        "vs",
        "etc",
        "ing",
        "mtro",
    ]
)


def sentence_ends(text: str) -> list[int]:
    """Character offsets where the sentences of `text` end, in order (for bisect)."""
    ends = []
    for found in _SENTENCE_END.finditer(text):
        start = found.start()
        if text[start] == ".":
            word = text[max(0, start - 8) : start].rsplit(None, 1)[-1:]
            before = word[0] if word else ""
            if before.isupper() and ("." in before or len(before) == 1):
                continue  # U.S. / EE.UU. / J.
            if before.lower().strip("(\"'") in _SHORT_TITLES:
                continue
        ends.append(found.end())
    return ends


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 article`, `2 articles`; `many` for irregular plurals (`1 entry`, `3 entries`)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
