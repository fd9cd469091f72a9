"""What a sentence says once its chatter is taken out: greetings, thanks, acknowledgements, names.

"Hey Mel! Good to see you!", "thanks!", "谢谢大家", "好的" and "lol" say nothing a group needs
to remember, and neither does the name of the person a sentence addresses: what is left of a
sentence without them is what the offline distiller weighs (see :mod:`adapters.llm.offline_cues`).
The phrase lists are fixed and small, for English and Chinese; anything they miss still has to
carry enough content terms to count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from adapters.llm.text import contains_cjk, features

# Whole phrases first (longest wins in an alternation only when listed first), then single words.
_CHATTER_EN = re.compile(
    r"\b(?:"
    r"good (?:morning|afternoon|evening|night|day)|long time no (?:see|talk|chat|hear)|welcome back"
    r"|(?:good|nice|great|glad|so good) to (?:see|hear from|meet|talk to) you(?: again| too)?"
    r"|how (?:are|have) you(?: been| doing)?|how'?s it going|how'?s everything|what'?s up(?: with you)?"
    r"|what'?s new|anything new|see (?:you|ya)(?: later| soon| tomorrow| around)?"
    r"|talk (?:to you )?(?:soon|later)|catch you later|take care"
    r"|have a (?:good|great|nice) (?:day|one|night|evening|weekend|time)|happy (?:birthday|new year"
    r"|holidays)|good luck|well done|(?:good|great|nice) (?:job|work)"
    r"|thank(?:s| you)(?: so much| a lot| again| for sharing)?|appreciate (?:it|that)|you'?re welcome"
    r"|no (?:problem|worries)|got it|sounds (?:good|great)|makes sense|that'?s (?:so |really )?"
    r"(?:cool|great|awesome|amazing|sweet|nice|good|kind|true)|me too|for sure"
    r"|hi|hey|hello|hiya|howdy|yo|g'?night|bye|goodbye|welcome|cheers|congrats"
    r"|congratulations|thx|ty|np|lol|lmao|rofl|ha(?:ha)+h?|he(?:he)+|wow+|omg|oh|ah|aw+|yay|woah"
    r"|whoa|hmm+|um+|uh+|ugh|yeah|yep|yup|nope|okay|ok|k|sure|awesome|amazing|glad|sorry|sweet"
    r"|lovely|cute|wonderful|fantastic|incredible|totally|absolutely|definitely|indeed|btw|anyway"
    r")\b",
    re.IGNORECASE,
)
_CHATTER_ZH = (
    "大家好", "你好", "您好", "早上好", "上午好", "下午好", "晚上好", "早安", "午安", "晚安", "哈喽",
    "好久不见", "欢迎", "谢谢", "多谢", "感谢", "谢啦", "辛苦了", "辛苦", "不客气", "客气了", "好的", "好滴",
    "好嘞", "好吧", "收到", "明白", "了解", "知道了", "没问题", "嗯嗯", "哈哈", "呵呵", "嘿嘿", "再见",
    "拜拜", "回头聊", "恭喜", "太棒了", "厉害", "太牛了", "周末愉快", "节日快乐", "新年快乐", "生日快乐", "一切顺利",
)  # fmt: skip
_CHATTER_ZH_PATTERN = re.compile("|".join(sorted(map(re.escape, _CHATTER_ZH), key=len, reverse=True)))
# A statement worth remembering has at least this many content terms once chatter is out.
MIN_CONTENT_TERMS = 2
_SHORTEST_NAME = 2
_SHORTEST_NAME_PART = 3


class Names:
    """The names of a chat's senders, to take out of what a sentence says.

    "Wow, that's cool, Caroline!" is not about Caroline: a name addresses someone. Full names
    and their parts of three letters or more are matched, Latin ones on word boundaries.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        parts: set[str] = set()
        for name in names:
            name = name.strip()
            if not name:
                continue
            if len(name) < _SHORTEST_NAME:
                continue  # "王" alone would cut every 王府井 short
            parts.add(name)
            if not contains_cjk(name):
                parts.update(p for p in re.split(r"[\s_.\-]+", name) if len(p) >= _SHORTEST_NAME_PART)
        ordered = sorted(parts, key=lambda part: (-len(part), part))
        latin = [re.escape(p) for p in ordered if not contains_cjk(p)]
        cjk = [re.escape(p) for p in ordered if contains_cjk(p)]
        self._latin = re.compile(rf"(?<!\w)@?(?:{'|'.join(latin)})(?!\w)", re.IGNORECASE) if latin else None
        self._cjk = re.compile(f"@?(?:{'|'.join(cjk)})") if cjk else None

    def strip(self, text: str) -> str:
        for pattern in (self._latin, self._cjk):
            if pattern is not None:
                text = pattern.sub(" ", text)
        return text


NO_NAMES = Names()


def without_chatter(text: str, names: Names = NO_NAMES) -> str:
    """``text`` without greetings, thanks, acknowledgements, interjections and names."""
    text = _CHATTER_EN.sub(" ", names.strip(text))
    return _CHATTER_ZH_PATTERN.sub(" ", text)


def content_terms(text: str, names: Names = NO_NAMES) -> int:
    """How many content terms ``text`` holds once its chatter is out (see TextFeatures)."""
    return features(without_chatter(text, names)).content_terms


def says_something(text: str, names: Names = NO_NAMES) -> bool:
    return content_terms(text, names) >= MIN_CONTENT_TERMS
