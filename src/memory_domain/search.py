"""The lexical search index behind the memory context: terms, its port, and BM25 scoring.

Every integrated message is a document. Its terms are lower-cased word stems (stop words out)
and, for Chinese and other CJK text, character bigrams, so "上线时间" meets "什么时候上线" on
"上线" without a segmenter; the speaker's name is a term of its own, so "what did Caroline …"
leans to what Caroline said. The index stores, per term and document, a BM25 *impact* (the
term-frequency part with its length normalisation); a query reads only the highest impacts of
its own terms, so it costs the same for a group with ten messages and one with a million.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from memory_domain.model import ChatMessage

BM25_K1 = 1.2
BM25_B = 0.75
MAX_TERM_LENGTH = 64
MAX_QUERY_TERMS = 32
# How many postings of each query term a query reads, best impact first.
POSTINGS_PER_TERM = 400
MIN_POSTINGS = 25
# Messages indexed per round when a group's index is rebuilt: the history is never all in memory.
REINDEX_BATCH = 2_000

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(f"[^\\W_{_CJK}]+")
_STOP_WORD_TEXT = """
a about after again all also am an and any are as at be been before being but by can could did
do does doing done for from get got had has have having he her here hers him his how i if in into
is it its just me my no not now of off on once only or our ours out over own she should so some
such than that the their theirs them then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours
ve ll re don didn doesn isn wasn aren weren won wouldn couldn shouldn im
"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())
# Chinese function words as bigrams: question words, pronouns and particles that any message may
# hold ("今天中午吃什么" must not answer "数据库什么时候切换"). Content words stay, "几点" too.
_CJK_STOP_TEXT = """
什么 时候 怎么 为什 为何 哪里 哪个 哪些 如何 是否 是不 不是 我们 你们 他们 她们 它们 大家 自己
这个 那个 这些 那些 这样 那样 这里 那里 这么 那么 一下 一个 一些 可以 可能 应该 已经 还是 就是
没有 有没 因为 所以 但是 如果 然后 的话 知道 觉得 一起 还有 或者 而且 不过 的时 么时
"""
CJK_STOP_BIGRAMS = frozenset(_CJK_STOP_TEXT.split())


def stem(word: str) -> str:
    """A light suffix stripper, enough for "hike", "hikes", "hiked" and "hiking" to meet."""
    for suffix, shortest in (("ing", 6), ("ies", 5), ("ed", 5), ("es", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= shortest and not word.endswith("ss"):
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            if suffix in ("ing", "ed") and len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "ls":
                word = word[:-1]  # "running" -> "runn" -> "run", but "falling" -> "fall"
            break
    return word[:-1] if len(word) >= 4 and word.endswith("e") else word


def tokens(text: str) -> list[str]:
    """The terms of ``text`` in order, repeats kept: word stems and CJK bigrams (a lone CJK character as is)."""
    found: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        found.append(stem(word)[:MAX_TERM_LENGTH])
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            found.append(run)
        else:
            bigrams = (run[index : index + 2] for index in range(len(run) - 1))
            found.extend(bigram for bigram in bigrams if bigram not in CJK_STOP_BIGRAMS)
    return found


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query, in order of first appearance, at most ``MAX_QUERY_TERMS``."""
    return list(dict.fromkeys(tokens(query)))[:MAX_QUERY_TERMS]


def speaker_term(name: str) -> str | None:
    """The term that stands for who said a message (None for a name without letters)."""
    terms = tokens(name)
    return terms[0] if len(terms) == 1 else None


def document_terms(message: ChatMessage) -> Counter[str]:
    """The term frequencies of a message as a search document: its text and its speaker."""
    counts = Counter(tokens(message.content))
    speaker = speaker_term(message.sender_name)
    if speaker is not None:
        counts[speaker] += 1
    return counts


def impact(tf: int, length: int, average_length: float) -> float:
    """BM25's term-frequency factor of one term in one document (the idf comes at query time)."""
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / max(average_length, 1.0))
    return tf * (BM25_K1 + 1) / (tf + norm)


def idf(documents: int, frequency: int) -> float:
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """One message as the index keeps it: its length and its terms with their impacts."""

    message_id: str
    length: int
    impacts: dict[str, float]


def index_documents(
    messages: Iterable[ChatMessage],
    documents: int,
    total_length: int,
) -> list[IndexedDocument]:
    """The documents of newly integrated messages, weighed against the group's lengths so far."""
    counted = [(message, document_terms(message)) for message in messages]
    new_length = sum(sum(counts.values()) for _, counts in counted)
    average = (total_length + new_length) / max(1, documents + len(counted))
    indexed = []
    for message, counts in counted:
        length = sum(counts.values())
        impacts = {term: impact(tf, length, average) for term, tf in counts.items()}
        indexed.append(IndexedDocument(message.message_id, length, impacts))
    return indexed


@dataclass(frozen=True, slots=True)
class Posting:
    message_id: str
    impact: float


@dataclass(frozen=True, slots=True)
class TermHits:
    """A query term's document frequency in the group and its best postings."""

    term: str
    frequency: int
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class SearchResult:
    documents: int
    average_length: float
    hits: tuple[TermHits, ...]


def postings_to_read(documents: int, frequency: Mapping[str, int], per_term: int) -> dict[str, int]:
    """How many postings of each term a query reads: ``per_term`` for its rarest term, fewer for
    common ones (down to ``MIN_POSTINGS``), in proportion to the square of their idf.

    A word most messages hold adds little to any score, so reading hundreds of its postings
    would buy nothing; terms nobody used are not read at all.
    """
    weights = {term: idf(documents, count) for term, count in frequency.items() if count > 0}
    if not weights or per_term <= 0:
        return {}
    top = max(weights.values())
    return {
        term: min(per_term, max(MIN_POSTINGS, round(per_term * (weight / top) ** 2)))
        for term, weight in weights.items()
    }


class SearchIndex(Protocol):
    """The search index of integrated messages (derived: rebuildable from the messages)."""

    async def search(self, group_id: str, terms: Sequence[str], per_term: int) -> SearchResult:
        """For each term, its document frequency and its best postings by impact: at most
        ``per_term``, as :func:`postings_to_read` shares them out (ties: higher message id first)."""
        ...

    async def reindex(self, group_id: str) -> int:
        """Rebuild the group's index from its integrated messages; return how many were indexed."""
        ...


def bm25_scores(result: SearchResult) -> dict[str, float]:
    """Message id -> BM25 score over the postings read."""
    scores: dict[str, float] = {}
    for hits in result.hits:
        weight = idf(result.documents, hits.frequency)
        for posting in hits.postings:
            scores[posting.message_id] = scores.get(posting.message_id, 0.0) + weight * posting.impact
    return scores


def term_weights(result: SearchResult) -> dict[str, float]:
    """Each query term's idf in the group (terms nobody used weigh the most)."""
    return {hits.term: idf(result.documents, hits.frequency) for hits in result.hits}


def text_score(weights: Mapping[str, float], text: str, average_length: float) -> float:
    """BM25 of a piece of text that is not in the index (an item, a topic), with the index's idf."""
    counts = Counter(tokens(text))
    length = sum(counts.values())
    return sum(
        weight * impact(counts[term], length, average_length)
        for term, weight in weights.items()
        if counts.get(term)
    )
