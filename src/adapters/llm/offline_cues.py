"""What the offline distiller reads in chat messages: decisions, preferences, agreement, questions.

Cues are fixed phrase lists for Chinese and regular expressions for English; nothing is
generated, so an item reads exactly as the chat wrote it (Chinese stays Chinese). Whether a
sentence says anything is weighed without its chatter (:mod:`adapters.llm.offline_chatter`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.llm.offline_chatter import MIN_CONTENT_TERMS, NO_NAMES, Names, content_terms
from adapters.llm.text import split_sentences, strip_leading_mentions
from memory_domain.group_model import ItemKind
from memory_domain.model import ChatMessage

_DECISION_ZH = (
    "决定", "定了", "就这么办", "就这么定", "敲定", "拍板", "说定了", "定下来了", "最终方案", "就按这个",
    "那就这样", "就这样定",
)  # fmt: skip
# A sentence that says a decision is still to be made is not one.
_UNDECIDED = (
    "还没", "没定", "待定", "未定", "要定", "再定", "再决定", "决定一下", "需要决定", "没决定", "定不下来",
    "haven't decided", "not decided", "undecided", "need to decide", "to be decided", "tbd", "yet to decide",
)  # fmt: skip
_DECISION_EN = re.compile(
    r"\b(?:we|i)(?:'ve| have)? decided\b|\bdecided to\b|\blet'?s go with\b|\bwe(?:'ll| will) go with\b"
    r"|\bgoing with\b|\bsettled on\b|\bfinal decision\b|\bdecision:|\bwe agreed to\b|\bit'?s decided\b"
    r"|\bdecided:|\bwe'?re going to go with\b",
    re.IGNORECASE,
)
_PREFERENCE_ZH = ("喜欢", "偏好", "倾向于", "讨厌", "爱吃", "最爱", "宁愿", "习惯用", "不爱")
_PREFERENCE_EN = re.compile(
    r"\bi (?:really |much |would )?(?:prefer|like|love|hate|dislike|enjoy)\b|\bwe (?:prefer|like|love)\b"
    r"|\bprefers?\b|\bfavou?rite\b|\bi'?d rather\b|\bdon'?t like\b",
    re.IGNORECASE,
)
_CONSENSUS_ZH = ("大家都同意", "一致同意", "达成共识", "共识", "大家都觉得", "都同意", "没有异议", "意见一致")
_CONSENSUS_EN = re.compile(
    r"\b(?:we|everyone|everybody) (?:all )?agrees?\b|\bconsensus\b|\ball agreed\b|\bunanimous",
    re.IGNORECASE,
)
_AGREE_ZH = ("同意", "赞成", "+1", "没问题", "可以", "好的", "好啊", "行", "支持", "附议", "👍", "对")
_DISAGREE_ZH = ("不行", "不同意", "不可以", "不对", "反对", "不好", "不太", "不赞成", "有问题")
_AGREE_EN = re.compile(
    r"^(?:\+1|agreed?|sounds good|same|yes|yep|yeah|ok(?:ay)?|sure|me too|works for me|good idea|"
    r"i agree|totally|exactly|👍)\b",
    re.IGNORECASE,
)
_NEVER = re.compile(r"(?!)")
_QUESTION_END = re.compile(r"(?:[?？]|[吗嘛么呢][。!！~～]*)\s*$")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
# A short reply that only agrees: at most this many CJK characters, or Latin words.
AGREEMENT_MAX_CJK = 12
AGREEMENT_MAX_WORDS = 6


@dataclass(frozen=True, slots=True)
class Cue:
    """One sentence of one message that says something of ``kind``."""

    kind: ItemKind
    sentence: str
    message: ChatMessage


def sentences(message: ChatMessage) -> list[str]:
    return split_sentences(strip_leading_mentions(message.content))


def _has_cue(sentence: str, phrases: Sequence[str], pattern: re.Pattern[str]) -> str | None:
    lowered = sentence.lower()
    for phrase in phrases:
        if phrase in lowered:
            return phrase
    found = pattern.search(sentence)
    return found.group(0) if found else None


def substantial(sentence: str, cue: str = "", names: Names = NO_NAMES) -> bool:
    """Whether the sentence says something beyond its cue ("定了！" alone does not).

    Greetings, thanks, acknowledgements and the names of the people it addresses do not count.
    """
    rest = sentence.replace(cue, " ") if cue else sentence
    return content_terms(rest, names) >= MIN_CONTENT_TERMS


def is_agreement(message: ChatMessage) -> bool:
    """A short reply whose point is to agree with what it answers."""
    text = strip_leading_mentions(message.content).strip()
    if not text:
        return False
    cjk = len(_CJK.findall(text))
    if cjk:
        if any(phrase in text for phrase in _DISAGREE_ZH):
            return False
        return cjk <= AGREEMENT_MAX_CJK and any(phrase in text for phrase in _AGREE_ZH)
    return len(text.split()) <= AGREEMENT_MAX_WORDS and _AGREE_EN.search(text) is not None


def is_question(sentence: str, names: Names = NO_NAMES) -> bool:
    """A question that asks something ("How have you been?" only greets)."""
    return asks(sentence) and substantial(sentence, names=names)


def asks(sentence: str) -> bool:
    """Whether the sentence is put as a question, whatever it asks."""
    return _QUESTION_END.search(sentence) is not None


def cues_of(message: ChatMessage) -> list[Cue]:
    """The decision, preference and consensus sentences of a message, in order, one kind each."""
    found: list[Cue] = []
    seen: set[ItemKind] = set()
    for sentence in sentences(message):
        if asks(sentence):
            continue  # "shall we go with X?" asks, it does not decide
        for kind, phrases, pattern in (
            (ItemKind.DECISION, _DECISION_ZH, _DECISION_EN),
            (ItemKind.CONSENSUS, _CONSENSUS_ZH, _CONSENSUS_EN),
            (ItemKind.PREFERENCE, _PREFERENCE_ZH, _PREFERENCE_EN),
        ):
            if kind in seen:
                continue
            cue = _has_cue(sentence, phrases, pattern)
            if kind is ItemKind.DECISION and cue is not None and _has_cue(sentence, _UNDECIDED, _NEVER):
                cue = None
            if cue is not None:
                found.append(Cue(kind, sentence, message))
                seen.add(kind)
                break
    return found


def questions_of(message: ChatMessage, names: Names = NO_NAMES) -> list[str]:
    return [sentence for sentence in sentences(message) if is_question(sentence, names)]


def statement_of(message: ChatMessage, limit: int) -> str:
    """What a message states: its sentences without its questions (all of them if it only asks)."""
    parts = sentences(message)
    stated = [sentence for sentence in parts if not asks(sentence)] or parts
    return " ".join(stated)[:limit]


_ALL_PHRASES = tuple(sorted({*_DECISION_ZH, *_CONSENSUS_ZH, *_PREFERENCE_ZH}, key=len, reverse=True))


def without_cues(text: str) -> str:
    """The text with every decision, consensus and preference cue taken out.

    Two statements that share only their cues ("we decided to go with ...") say different
    things; comparing what is left tells a revision from an unrelated statement.
    """
    for phrase in _ALL_PHRASES:
        text = text.replace(phrase, " ")
    for pattern in (_DECISION_EN, _CONSENSUS_EN, _PREFERENCE_EN):
        text = pattern.sub(" ", text)
    return text


def cue_word(cue: Cue) -> str:
    """The cue phrase the sentence holds (for telling a bare "定了" from a real decision)."""
    tables = {
        ItemKind.DECISION: (_DECISION_ZH, _DECISION_EN),
        ItemKind.CONSENSUS: (_CONSENSUS_ZH, _CONSENSUS_EN),
        ItemKind.PREFERENCE: (_PREFERENCE_ZH, _PREFERENCE_EN),
    }
    phrases, pattern = tables[cue.kind]
    return _has_cue(cue.sentence, phrases, pattern) or ""
