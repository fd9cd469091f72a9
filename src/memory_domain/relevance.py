"""How relevant a piece of memory is to a query, and how much it weighs without one.

Plain lexical matching, deterministic and language-neutral: Latin-script text is compared by
lower-cased words, Chinese (and other CJK) text by character bigrams, so "上线时间" matches
"什么时候上线" on "上线" without a word segmenter.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(f"[^\\W_{_CJK}]+")
_STOP_WORD_TEXT = """
a an and are as at be by do does for from has have how i in is it of on or our the to was we what
when where which who why will with you your
"""
_STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())
# Age at which recency counts half; memory that still holds after weeks is what a reply needs.
RECENCY_HALF_LIFE_DAYS = 14.0
# Support beyond this many messages adds nothing more.
SUPPORT_SATURATION = 50


def _stem(word: str) -> str:
    """A crude suffix stripper, enough for "hike", "hikes", "hiked" and "hiking" to meet."""
    for suffix, shortest in (("ing", 6), ("ed", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= shortest and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) >= 4 and word.endswith("e") else word


def terms(text: str) -> set[str]:
    """The matching terms of ``text``: lower-cased word stems and CJK bigrams (a lone CJK character as is)."""
    found = {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS and len(word) > 1}
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            found.add(run)
        found.update(run[index : index + 2] for index in range(len(run) - 1))
    return found


def match(query_terms: set[str], text: str) -> float:
    """The share of the query's terms that ``text`` contains, from 0 to 1."""
    if not query_terms:
        return 0.0
    return len(query_terms & terms(text)) / len(query_terms)


def weight(updated_at: datetime, support: int, now: datetime, bonus: float = 0.0) -> float:
    """How much an entry weighs without a query: recent and frequently supported first.

    Recency halves every ``RECENCY_HALF_LIFE_DAYS``; support (how many messages an entry came
    from) grows logarithmically and saturates. Both lie in [0, 1]; ``bonus`` is added.
    """
    age_days = max(0.0, (now - updated_at).total_seconds() / 86_400)
    recency: float = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS)
    backing = min(1.0, math.log1p(max(0, support)) / math.log1p(SUPPORT_SATURATION))
    return recency + backing + bonus
