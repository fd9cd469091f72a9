"""Text helpers of the offline topic model: terms, sentences, scripts and lengths.

Nothing here downloads or loads anything. English (and other space-separated scripts) is split
into lower-cased words, filtered by a stopword list and trimmed by a light suffix stripper;
Chinese and the other CJK scripts, which put no spaces between words, are cut at function
characters and turned into character bigrams, with single characters as a weak extra signal.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(f"[^\\W_{_CJK}]+(?:'[^\\W_{_CJK}]+)*")
_LATIN_LETTER = re.compile(f"[^\\W\\d_{_CJK}]")
# CJK punctuation ends a sentence by itself; Latin punctuation only before a space, so that
# "v1.2", "9:30" and URLs stay whole.
_SENTENCE_BREAK = re.compile(r"(?<=[。！？；…])\s*|(?<=[.!?;])\s+|\n+")
_MENTION_PREFIX = re.compile(r"^(?:@\S+\s*)+")
_CLAUSE_BREAK = re.compile(r"[，、：；。！？…\n]|[,:;.!?]+(?=\s|$)|\s[-–—]\s")

# Single characters are a weak extra signal next to the bigrams: they let "爬山" meet "爬香山",
# without letting the common characters they share glue unrelated Chinese messages together.
UNIGRAM_WEIGHT = 0.3

# Function characters: a CJK run is cut at these, so no bigram spans a particle or a pronoun.
_STOP_CHARS = frozenset(
    "的了吗吧呢啊呀哦嗯哈嘛么和与及或是在有我你您他她它们这那就都也还把被给很太又再才而但让着过得地之其此啦哇噢喔"
)
_STOP_CHAR_CLASS = re.compile("[" + "".join(sorted(_STOP_CHARS)) + "]+")
_STOP_UNIGRAMS = frozenset("好个一不有要会说看来去上下大小多少对没用想做吃到点人年月日天时号")
# Kept as one string each (split at import) so the lists stay readable.
_STOP_BIGRAM_TEXT = """
可以 什么 怎么 这个 那个 一下 一个 已经 没有 觉得 知道 应该 现在 然后 因为 所以 但是 如果 时候 大家
谢谢 好了 收到 明白 可能 一起 今天 明天 昨天 感觉 真的 其实 不过 而且 或者 自己 东西 这样 那样 怎样
大概 一点 有点 不是 不会 不要 就是 好吧 哈哈 嗯嗯 没问 问题 一些 这些 那些 还有 看看 需要 一定
非常 比较 之后 之前 以后 以前 的话 不错 好啊 对的 是的 行的 可是 只是 起来 出来 下来 上来 过来 回来
"""
_STOP_WORD_TEXT = """
a about above after again against all also am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each few for from further had hadn't has hasn't have haven't having he he'd
he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
or other ought our ours ourselves out over own same shan't she she'd she'll she's should
shouldn't so some such than that that's the their theirs them themselves then there there's
these they they'd they'll they're they've this those through to too under until up very was
wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while
who who's whom why why's with won't would wouldn't you you'd you'll you're you've your yours
yourself yourselves ok okay yes yeah yep yup no nope thanks thank thx ty lol haha hah hmm hi
hello hey sure great cool nice good fine got get gets let lets just like really also well one
would will shall may might must need know think see look want go going gonna wanna make made
much many still even now then today tomorrow yesterday tonight right though something anything
everything nothing someone anyone everyone thing things way back lot bit pls please plz maybe
done sounds sound agree agreed true
"""
_STOP_BIGRAMS = frozenset(_STOP_BIGRAM_TEXT.split())
_STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What the offline model reads from one text.

    ``counts`` maps each term to its weighted frequency; ``content_terms`` estimates the number
    of distinct content words (a single CJK character is not counted: "好" alone says nothing).
    """

    counts: dict[str, float]
    content_terms: int
    cjk_chars: int
    latin_letters: int


@functools.lru_cache(maxsize=16_384)
def stem(word: str) -> str:
    """A light English suffix stripper: "hiking", "hiked", "hikes" and "hike" all become "hik".

    Stems are only keys for matching; titles show a word as the text wrote it.
    """
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or not word.isascii():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix, shortest in (("ment", 8), ("ing", 6), ("ed", 5)):
        if word.endswith(suffix) and len(word) >= shortest and not word.endswith("eed"):
            word = word[: -len(suffix)]
            # "planning" -> "plann" -> "plan"
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    else:
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    return word


def cjk_segments(run: str) -> list[str]:
    """Cut a run of CJK characters at function characters (the pieces hold the content words)."""
    return [segment for segment in _STOP_CHAR_CLASS.split(run) if segment]


@functools.lru_cache(maxsize=32_768)
def _term(surface: str) -> str | None:
    lowered = surface.lower()
    if lowered in _STOP_WORDS or lowered.isdigit() or len(lowered) < 2:
        return None
    return stem(lowered)


def words(text: str) -> Iterator[tuple[str, str]]:
    """The content words of ``text`` as (stem, surface form), in order."""
    for surface in _WORD.findall(text.replace("’", "'")):
        term = _term(surface)
        if term is not None:
            yield term, surface


def cjk_runs(text: str) -> list[str]:
    """The runs of CJK characters of ``text``, in order."""
    return _CJK_RUN.findall(text)


def is_stop_word(word: str) -> bool:
    """True for a common word that says nothing by itself ("will", "ok", "the")."""
    return word.lower() in _STOP_WORDS


def is_stop_bigram(bigram: str) -> bool:
    return bigram in _STOP_BIGRAMS


def features(text: str) -> TextFeatures:
    """Extract the weighted terms and script counts of ``text``."""
    counts: dict[str, float] = {}
    get = counts.get
    content = 0
    for surface in _WORD.findall(text.replace("’", "'")):
        term = _term(surface)
        if term is not None:
            if term not in counts:
                content += 1
            counts[term] = get(term, 0.0) + 1.0
    bigrams: set[str] = set()
    cjk_chars = 0
    for run in _CJK_RUN.findall(text):
        cjk_chars += len(run)
        for segment in _STOP_CHAR_CLASS.split(run):
            for bigram in [segment[index : index + 2] for index in range(len(segment) - 1)]:
                if bigram not in _STOP_BIGRAMS:
                    counts[bigram] = get(bigram, 0.0) + 1.0
                    bigrams.add(bigram)
            for char in segment:
                if char not in _STOP_UNIGRAMS:
                    counts[char] = get(char, 0.0) + UNIGRAM_WEIGHT
    return TextFeatures(
        counts=counts,
        # Two overlapping bigrams make about one Chinese word: "数据库" is one term, not two.
        content_terms=content + (len(bigrams) + 1) // 2,
        cjk_chars=cjk_chars,
        latin_letters=len(_LATIN_LETTER.findall(text)),
    )


def is_cjk_dominant(cjk_chars: int, latin_letters: int) -> bool:
    """True when CJK carries the text: one CJK character says about as much as three letters."""
    return cjk_chars > 0 and cjk_chars * 3 >= latin_letters


def contains_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None


def split_sentences(text: str) -> list[str]:
    """Split at sentence ends: CJK and Latin punctuation, and line breaks."""
    return [part.strip() for part in _SENTENCE_BREAK.split(text) if part.strip()]


def strip_leading_mentions(text: str) -> str:
    return _MENTION_PREFIX.sub("", text.strip())


def first_clause(text: str) -> str:
    """The first clause of ``text`` that is not a stub, or the whole text when every clause is."""
    parts = [part.strip() for part in _CLAUSE_BREAK.split(text)]
    for part in parts:
        if len(part) >= 4 or (contains_cjk(part) and len(part) >= 2):
            return part
    return text.strip()


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary where Latin text allows."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit < 2:
        return text[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6 and not contains_cjk(cut[space:]):
        cut = cut[:space]
    return cut.rstrip(" ,;:，、；：") + "…"


def approx_tokens(text: str) -> int:
    """A deterministic token estimate: one per CJK character, one per four other characters."""
    cjk = len(_CJK_CHAR.findall(text))
    other = len("".join(text.split())) - cjk
    return cjk + math.ceil(other / 4)
