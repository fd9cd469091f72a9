"""What a statement is about, and whether it says that something changed.

The offline distiller compares statements by their terms (:func:`gist_of`: what they say, with
their numbers) and by their subject (:func:`subject_of`: the same without times, for two
statements of one thing said a year apart differ in them). A later statement replaces an
earlier one of the same person when it says that something changed (see
:meth:`adapters.llm.offline_plan.Plan.revises`): "I moved to Paris" after "I moved to Berlin",
where "I went to the gym" and "I went to the park" are two events that both stay.
"""

from __future__ import annotations

import re

from adapters.llm.offline_cues import without_cues
from adapters.llm.text import features

# Kinds of change a statement states, one pattern each. A person lives in one place at a time,
# so their own move ("I moved to …", "我搬到…") replaces their previous one whatever else the two
# say (EXCLUSIVE_CHANGES); any other move ("we finally moved to Kubernetes") and a switch replace
# an earlier one only of the same subject ("to the data team", "to the platform team" both, "to
# decaf" not "to Postgres").
_CHANGES = {
    "home": re.compile(
        r"\bI(?:'ve| have|'m| am| just| finally| recently| then)* "
        r"(?:moved|moving|relocated|relocating)(?: back)? (?:to|into)\b|我(?:们家)?(?:刚|已经)?搬(?:到|去|回|进|家到)",
        re.IGNORECASE,
    ),
    "move": re.compile(
        r"\b(?:moved|moving|relocated|relocating)(?: back)? (?:to|into)\b|搬(?:到|去|回|进|家到)",
        re.IGNORECASE,
    ),
    "switch": re.compile(
        r"\b(?:switched|switching|changed|changing|transferred)(?: over)? to\b"
        r"|改(?:成|为|到|用)|换(?:成|到)|转到|调到|跳槽到",
        re.IGNORECASE,
    ),
}
EXCLUSIVE_CHANGES = frozenset({"home"})
# Other words that say a state changed; the adverbs say only that ("now", "现在"), so they are no
# part of what a statement is about.
_CHANGE_VERBS = re.compile(
    r"\b(?:moved|relocated|switched|changed|quit|not \w+ing any ?more)\b|改了|换了|不干了", re.IGNORECASE
)
_CHANGE_ADVERBS = re.compile(
    r"\b(?:no longer|any ?more|instead|now|nowadays|these days|currently|from now on)\b"
    r"|从现在起|现在|目前|如今|不再|已经不",
    re.IGNORECASE,
)
# Times say when, not what.
_TIME_EN = re.compile(
    r"\b(?:(?:last|next|this|past|coming) (?:week(?:end)?|month|year|night|time|summer|winter|spring"
    r"|fall|autumn)|\d+ (?:days?|weeks?|months?|years?) ago|ago|recently|earlier|later|lately"
    r"|(?:january|february|march|april|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?|(?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|(?:19|20)\d\d|\d{1,2}(?::\d\d)? ?(?:am|pm)|morning|afternoon|evening|night|weekend)\b",
    re.IGNORECASE,
)
_TIME_ZH = re.compile(
    "去年|今年|明年|前年|上个?月|下个?月|这个?月|本月|上周|下周|这周|本周|上星期|下星期|前天|昨天|今天|明天"
    "|后天|昨晚|今晚|早上|上午|中午|下午|晚上|周末|最近|刚才|以前|之前|以后|之后"
    "|[0-9零一二两三四五六七八九十]+(?:年|月|日|号|点|天|周|个月|小时)(?:前|后)?|(?:周|星期|礼拜)[一二三四五六日天]"
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.])")


def changes_of(text: str) -> frozenset[str]:
    """The kinds of change ``text`` states ("move", "switch"), see ``_CHANGES``."""
    return frozenset(kind for kind, pattern in _CHANGES.items() if pattern.search(text))


def says_changed(text: str) -> bool:
    """Whether ``text`` says that something changed: a move, a switch, "now", "no longer", "现在"."""
    return bool(
        changes_of(text) or _CHANGE_VERBS.search(text) is not None or _CHANGE_ADVERBS.search(text) is not None
    )


def mentions_time(text: str) -> bool:
    return _TIME_EN.search(text) is not None or _TIME_ZH.search(text) is not None


def without_times(text: str) -> str:
    """The text without its times and dates ("last month", "2019", "昨天", "周六早上")."""
    return _TIME_ZH.sub(" ", _TIME_EN.sub(" ", text))


def numbers_of(text: str) -> list[str]:
    """The numbers a statement gives ("45 座", "3 hours"), its times and dates left out."""
    return _NUMBER.findall(without_times(text))


def gist_of(statement: str) -> dict[str, float]:
    """The terms and numbers of what a statement says, without its cue words.

    Two statements that share only their cues ("we decided to go with ...") say different
    things; two that differ only in a number ("3 hours", "4 hours") do too.
    """
    text = without_cues(statement)
    counts = features(text).counts
    for number in numbers_of(text):
        counts[f"#{number}"] = counts.get(f"#{number}", 0.0) + 1.0
    return counts


def subject_of(statement: str) -> dict[str, float]:
    """What a statement is about: its terms without cue words, times and "now"/"现在"."""
    return features(without_times(_CHANGE_ADVERBS.sub(" ", without_cues(statement)))).counts
