"""Titles and extractive summaries of the offline topic model.

Nothing is generated: a title is the topic's key terms (words and CJK phrases that recur across
its messages) or a short leading phrase of its most central sentence; a summary is a selection
of the topic's own sentences. A Chinese topic therefore keeps a Chinese title and summary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from adapters.llm.offline_vectors import Analyser, Centroid, Idf
from adapters.llm.text import (
    cjk_runs,
    cjk_segments,
    clip,
    contains_cjk,
    first_clause,
    is_stop_bigram,
    split_sentences,
    strip_leading_mentions,
    words,
)

SUMMARY_TARGET = 300
SENTENCE_MAX = 600
TITLE_TERMS = 3
TITLE_MAX = 80
TERM_MAX = 30
LEADING_PHRASE_CJK = 24
LEADING_PHRASE_LATIN = 60
SEPARATOR = " · "
# How much an existing summary sentence is preferred to a new one of equal rank: a summary
# should drift as the topic moves on, not be rewritten by every update.
KEPT_SENTENCE_BONUS = 0.1
COVERAGE_WEIGHT = 0.3
DUPLICATE_COSINE = 0.9
_SHORTEST_WORD = 3
_LONGEST_PHRASE = 4
_ENDS_SENTENCE = ("。", "！", "？", "…", ".", "!", "?", "；", ";")
_CJK_END = ("。", "！", "？", "…", "；")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Summary:
    """A composed summary and its highest-ranked sentence (the seed of a leading-phrase title)."""

    text: str
    lead: str


def _phrases(text: str) -> Iterator[str]:
    """The CJK phrases of 2 to ``_LONGEST_PHRASE`` characters of ``text`` with no stop bigram."""
    for run in cjk_runs(text):
        for segment in cjk_segments(run):
            usable = [not is_stop_bigram(segment[index : index + 2]) for index in range(len(segment) - 1)]
            for start in range(len(usable)):
                for end in range(start + 2, min(start + _LONGEST_PHRASE, len(segment)) + 1):
                    if not usable[end - 2]:
                        break
                    yield segment[start:end]


def _display(forms: list[str]) -> str:
    # Lower case unless the text never writes the word in lower case ("Redis", "AWS").
    lowered = [form for form in forms if form.islower()]
    return Counter(lowered or forms).most_common(1)[0][0]


@dataclass(slots=True)
class _TermCounts:
    """How often each term occurs in a topic's documents; ``forms`` only for (Latin) words."""

    documents: dict[str, int] = field(default_factory=dict)
    occurrences: dict[str, int] = field(default_factory=dict)
    forms: dict[str, list[str]] = field(default_factory=dict)


def _count_terms(documents: Sequence[str]) -> _TermCounts:
    counts = _TermCounts()
    in_documents, occurrences, forms = counts.documents, counts.occurrences, counts.forms
    for document in documents:
        found: list[str] = []
        for term, surface in words(document):
            if len(term) >= _SHORTEST_WORD:
                found.append(term)
                forms.setdefault(term, []).append(surface)
        found.extend(_phrases(document))
        for term in found:
            occurrences[term] = occurrences.get(term, 0) + 1
        for term in dict.fromkeys(found):
            in_documents[term] = in_documents.get(term, 0) + 1
    return counts


def _overlap(term: str, other: str) -> bool:
    if term in other or other in term:
        return True
    if not (contains_cjk(term) and contains_cjk(other)):
        return False
    # CJK phrases that share a bigram are two cuts of the same words ("数据库" and "据库迁").
    return not {term[i : i + 2] for i in range(len(term) - 1)}.isdisjoint(
        other[i : i + 2] for i in range(len(other) - 1)
    )


def key_terms(documents: Sequence[str], idf: Idf, cjk_topic: bool) -> list[str]:
    """Two to ``TITLE_TERMS`` terms that recur across ``documents``, best first; [] when too few do.

    A term must occur in at least two documents. A CJK phrase that never occurs outside a longer
    one gives way to it ("数据" and "据库" to "数据库"), and phrases that overlap ("数据库" and
    "据库迁") are not both taken.
    """
    counts = _count_terms(documents)
    occurrences = counts.occurrences
    # Words have surface forms; every other term is a CJK phrase.
    shadowed = {
        part
        for phrase, count in occurrences.items()
        if len(phrase) > 2 and phrase not in counts.forms
        for part in (phrase[:-1], phrase[1:])
        if occurrences[part] == count
    }
    ranked: list[tuple[float, int, str]] = []
    for order, (term, in_documents) in enumerate(counts.documents.items()):
        if in_documents < 2 or term in shadowed:
            continue
        if term in counts.forms:
            weight = idf(term)
        else:
            bigrams = [term[i : i + 2] for i in range(len(term) - 1)]
            weight = sum(idf(bigram) for bigram in bigrams) / len(bigrams) * (1.0 + 0.05 * (len(term) - 2))
        # Documents count most; repeats within one document count half.
        strength = in_documents + 0.5 * (occurrences[term] - in_documents)
        ranked.append((strength * weight, order, term))
    ranked.sort(key=lambda item: (-item[0], item[1], item[2]))
    chosen: list[tuple[str, str]] = []
    for _score, _order, term in ranked:
        if any(_overlap(term, other) for other, _shown in chosen):
            continue
        shown = _display(counts.forms[term]) if term in counts.forms else term
        chosen.append((term, clip(shown, TERM_MAX)))
        if len(chosen) == TITLE_TERMS:
            break
    if len(chosen) < 2:
        return []
    shown_terms = [shown for _term, shown in chosen]
    if cjk_topic:
        # A Chinese topic is titled in Chinese: its first term is Chinese, or no term title at all.
        cjk_terms = [term for term in shown_terms if contains_cjk(term)]
        if not cjk_terms:
            return []
        shown_terms = cjk_terms + [term for term in shown_terms if not contains_cjk(term)]
    return shown_terms


def summarise(sentences: Sequence[str], kept: int, analyser: Analyser, terms: Sequence[str]) -> Summary:
    """Pick the most central sentences (the first ``kept`` come from the existing summary).

    A sentence ranks by its similarity to the topic as a whole plus the share of the key terms
    it contains. The picks are kept in their original order, within ``SUMMARY_TARGET``
    characters (the first pick alone may be longer, up to ``SENTENCE_MAX``). Sentences without
    content ("好的", "ok") are picked only when nothing else is there.
    """
    texts = [analyser.features(sentence) for sentence in sentences]
    vectors = [analyser.vector(sentence) for sentence in sentences]
    centroid = Centroid()
    for vector in vectors:
        centroid.add(vector)
    lowered_terms = [term.lower() for term in terms]
    scores: list[float] = []
    for index, sentence in enumerate(sentences):
        if texts[index].content_terms == 0:
            scores.append(-1.0)
            continue
        lowered = sentence.lower()
        coverage = sum(1 for term in lowered_terms if term in lowered) / len(terms) if terms else 0.0
        bonus = KEPT_SENTENCE_BONUS if index < kept else 0.0
        scores.append(centroid.cosine(vectors[index]) + COVERAGE_WEIGHT * coverage + bonus)
    ranking = sorted(range(len(sentences)), key=lambda index: (-scores[index], index))
    chosen: list[int] = []
    seen_texts: set[str] = set()
    length = 0
    for index in ranking:
        text = clip(sentences[index], SENTENCE_MAX)
        normal = _SPACES.sub(" ", text).casefold()
        if chosen and (scores[index] < 0.0 or length + len(text) > SUMMARY_TARGET):
            continue
        if normal in seen_texts or any(
            vectors[index].cosine(vectors[other]) >= DUPLICATE_COSINE for other in chosen
        ):
            continue
        chosen.append(index)
        seen_texts.add(normal)
        length += len(text) + 1
    picked = [clip(sentences[index], SENTENCE_MAX) for index in sorted(chosen)]
    return Summary(text=join_sentences(picked), lead=sentences[ranking[0]] if ranking else "")


def join_sentences(sentences: Sequence[str]) -> str:
    """Join sentences into a paragraph, ending each so that it splits back the same way."""
    parts: list[str] = []
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence:
            continue
        if not sentence.endswith(_ENDS_SENTENCE):
            last = sentence[-1]
            if contains_cjk(last):
                sentence += "。"
            elif last.isalnum():
                sentence += "."
        if parts and not (parts[-1].endswith(_CJK_END) and contains_cjk(sentence[0])):
            parts.append(" ")
        parts.append(sentence)
    return "".join(parts)


def leading_phrase(sentence: str) -> str:
    """A short title taken from the start of ``sentence`` (without a leading @mention)."""
    text = strip_leading_mentions(sentence) or sentence.strip()
    clause = first_clause(text)
    limit = LEADING_PHRASE_CJK if contains_cjk(clause) else LEADING_PHRASE_LATIN
    return clip(clause, limit) or clip(text, LEADING_PHRASE_LATIN)


def title_of(terms: Sequence[str], lead: str, previous: str | None) -> str:
    """Key terms when there are some; otherwise the previous title, or a leading phrase."""
    if terms:
        return clip(SEPARATOR.join(terms), TITLE_MAX)
    if previous:
        return previous
    return leading_phrase(lead)


def candidate_sentences(texts: Sequence[str]) -> list[str]:
    """The sentences of ``texts``, in order; a text with no sentence break counts as one."""
    return [sentence for text in texts for sentence in split_sentences(text)]
