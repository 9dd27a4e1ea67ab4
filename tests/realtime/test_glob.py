"""Blocked-term globs match in bounded work (issue 10, item 2).

Globs used to become regexes with lazy ``.*?``; each extra ``*`` multiplied the
backtracking (``a*b*a*b*z`` against one 300-character message took 15 s on the
event loop). These tests bound the *work* (searches per pattern, characters a
search may look at), not the wall-clock time, and check the linear matcher
against the regex translation on small inputs where backtracking is harmless.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasar.engagement import rules as chat_rules
from pasar.engagement.rules import MAX_MESSAGE_CHARS, Rules, fold


def regex_reference(pattern: str, text: str) -> bool:
    """The old translation (correct, only slow): ``*`` → ``.*?``, ``?`` → ``.``."""
    parts = [".*?" if c == "*" else "." if c == "?" else re.escape(c) for c in fold(pattern)]
    return re.compile("".join(parts), re.DOTALL).search(fold(text)) is not None


class CountingFinder:
    """Wraps ``find_piece`` to count searches and bound the characters each may read."""

    def __init__(self) -> None:
        self.calls = 0
        self.work = 0
        self.real = chat_rules.find_piece

    def __call__(self, text: str, piece: str, start: int) -> int:
        self.calls += 1
        # A search for a piece reads each start position once, piece-length deep.
        self.work += max(0, len(text) - start) * len(piece)
        return self.real(text, piece, start)


PATHOLOGICAL = [
    "a*b*a*z",
    "a*b*a*b*z",
    "a*b*a*b*a*b*a*b*a*b*z",
    "*a*b*a*b*a*b*a*b*a*b*z*",
    "?*?*?*?*?*?*?*?*?*?*z",
    "ab*ab*ab*ab*ab*ab*ab*ab*ab*ab*abz",
    "a?b*a?b*a?b*a?b*a?b*a?b*a?b*a?b*a?b*a?b*z",
]
MESSAGES = [
    "ab" * (MAX_MESSAGE_CHARS // 2),
    "ba" * (MAX_MESSAGE_CHARS // 2),
    "a b " * (MAX_MESSAGE_CHARS // 4),
    ("abxab" * 60)[:MAX_MESSAGE_CHARS],
]


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
@pytest.mark.parametrize("message", MESSAGES)
def test_pathological_patterns_take_one_search_per_piece(
    pattern: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingFinder()
    monkeypatch.setattr(chat_rules, "find_piece", counter)
    pieces = [p for p in fold(pattern).split("*") if p]

    assert Rules(patterns=(pattern,)).blocked(message) is None  # no "z" anywhere

    assert counter.calls <= len(pieces)
    # At most every (position, pattern character) pair once: polynomial, tiny.
    assert counter.work <= len(fold(message)) * len(fold(pattern))


def test_many_patterns_on_a_full_message_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingFinder()
    monkeypatch.setattr(chat_rules, "find_piece", counter)
    patterns = tuple(PATHOLOGICAL) + ("*z*",) * 50
    rules = Rules(patterns=patterns)
    assert rules.blocked("ab" * 150) is None
    total_pieces = sum(len([p for p in fold(p).split("*") if p]) for p in patterns)
    assert counter.calls <= total_pieces


@pytest.mark.parametrize(
    ("pattern", "text", "blocked"),
    [
        ("free*money", "FREE easy MONEY", True),
        ("free*money", "money for free", False),
        ("*wa.me/*", "chat me at WA.ME/628123", True),
        ("b?tcoin", "b1tcoin", True),  # leetspeak folds 1 -> i
        ("b?tcoin", "btcoin", False),  # ? is exactly one character
        ("a*b", "a\nb", True),  # * spans lines
        ("a?b", "a\nb", True),
        ("***", "anything", True),  # only stars: every message
        ("sc*m", "SCÁÁÁM", True),  # case, accents and runs fold first
        ("ab*ab", "ab", False),  # pieces do not overlap
        ("ab*ba", "aba", False),
        ("ab*ba", "abba", True),
    ],
)
def test_glob_semantics(pattern: str, text: str, blocked: bool) -> None:
    assert (Rules(patterns=(pattern,)).blocked(text) == pattern) is blocked
    assert regex_reference(pattern, text) is blocked


@settings(max_examples=400, deadline=None)
@given(
    pattern=st.text(alphabet="ab?*1A", max_size=8),
    text=st.text(alphabet="ab1A \n", max_size=14),
)
def test_glob_matches_the_regex_translation(pattern: str, text: str) -> None:
    got = Rules(patterns=(pattern,)).blocked(text) == pattern if pattern.strip() else None
    if got is not None:
        assert got is regex_reference(pattern, text)
