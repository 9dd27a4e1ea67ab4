"""Chat text rules: folding for blocked terms, safe glob patterns, message checks.

Blocked terms are compared on *folded* text: case-folded, accents removed
(NFKD without combining marks), leetspeak mapped back to letters (``4→a``,
``3→e``, ``@→a`` …) and letter runs squeezed (``baaaad`` matches ``bad``).
A word entry matches whole words of the folded text (so ``scam`` does not
block ``scampi``), and words spelled out a letter at a time, so ``s.c.a.m`` and
``s c a m`` match ``scam``. Emoji
entries match anywhere. Pattern entries are globs (``*`` any run, ``?`` one
character), never raw regular expressions: vendor input must not be able to
make the server backtrack for seconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

MAX_MESSAGE_CHARS = 300

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}
)
_RUNS = re.compile(r"(.)\1{2,}")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    folded = _strip_marks(text).casefold().translate(_LEET)
    return _RUNS.sub(r"\1", folded)


def _spelled_out(folded: str) -> set[str]:
    """Words written one letter at a time ("s.c.a.m", "s c a m") joined back up."""
    words, run = set(), []
    for token in [*_NON_WORD.split(folded), ""]:
        if len(token) == 1:
            run.append(token)
            continue
        if len(run) > 1:
            words.add("".join(run))
        run = []
    return words


def clean_text(text: str) -> str:
    """What Pasar stores: NFC, no control or bidi-override characters, trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _is_emoji_like(term: str) -> bool:
    return all(not c.isalnum() for c in term)


@dataclass(frozen=True, slots=True)
class Glob:
    """A folded glob split on ``*`` into the pieces that must appear in order.

    Matching takes each piece at its leftmost place after the previous one:
    with only ``*`` between pieces, taking a piece as early as possible never
    loses a match (it leaves the most text for the pieces after it), so there
    is never a reason to go back. Work is one search per piece, each at most
    (message length x piece length) character comparisons, whatever the
    pattern; the old ``.*?`` regexes backtracked exponentially in the number
    of ``*`` (``a*b*a*b*z`` took 15 s on one 300-character message).
    """

    pieces: tuple[str, ...]

    def search(self, text: str) -> bool:
        at = 0
        for piece in self.pieces:
            found = find_piece(text, piece, at)
            if found < 0:
                return False
            at = found + len(piece)
        return True


@lru_cache(maxsize=4096)
def _wildcard_piece(piece: str) -> re.Pattern[str]:
    # Literals and "." only: no quantifier, so no backtracking beyond the piece.
    return re.compile("".join("." if c == "?" else re.escape(c) for c in piece), re.DOTALL)


def find_piece(text: str, piece: str, start: int) -> int:
    """Where ``piece`` (``?`` = any one character) first occurs at or after
    ``start``, or -1."""
    if "?" not in piece:
        return text.find(piece, start)
    found = _wildcard_piece(piece).search(text, start)
    return found.start() if found else -1


@lru_cache(maxsize=4096)
def _glob(term: str) -> Glob:
    return Glob(tuple(piece for piece in fold(term).split("*") if piece))


@dataclass(frozen=True)
class Rules:
    words: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def blocked(self, text: str) -> str | None:
        """The first rule ``text`` breaks, or None."""
        folded = fold(text)
        padded = f" {_NON_WORD.sub(' ', folded)} "
        spelled = _spelled_out(folded)
        for word in self.words:
            if _is_emoji_like(word):
                if word.replace("\ufe0f", "") in text.replace("\ufe0f", ""):
                    return word
                continue
            target = fold(word)
            if f" {_NON_WORD.sub(' ', target).strip()} " in padded:
                return word
            if target in spelled:
                return word
        for pattern in self.patterns:
            if _glob(pattern).search(folded):
                return pattern
        return None


def validate_term(kind: str, term: str) -> str:
    term = term.strip()
    if not term or len(term) > 200:
        raise ValueError("a term has 1 to 200 characters")
    if kind == "pattern" and term.count("*") > 10:
        raise ValueError("a pattern has at most 10 '*'")
    return term
