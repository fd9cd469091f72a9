"""The measures of memory quality (see ``../shared/data/README.md``).

Partition scores compare which messages a topic memory put together with the gold conversations
(1-VI, one-to-one overlap, adjusted Rand index, as Kummerfeld et al. 2019 evaluate
disentanglement); answer-token recall says how much of a question's answer a context holds.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

_WORD = re.compile(r"[a-z0-9]+")
# The common English words left out of answer-token recall: they say nothing about the answer.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "him",
        "we",
        "us",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "mine",
        "do",
        "does",
        "did",
        "not",
        "no",
        "so",
        "if",
        "then",
        "than",
        "there",
        "here",
        "what",
        "when",
        "where",
        "who",
        "whom",
        "which",
        "why",
        "how",
        "about",
        "into",
        "over",
        "after",
        "before",
        "up",
        "down",
        "out",
        "off",
        "again",
        "just",
        "also",
        "very",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "having",
    ]
)


def answer_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric words without stop words, in order (repeats kept)."""
    return [word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]


def token_recall(answer: str, context: str) -> float:
    """The share of the answer's distinct tokens that occur in the context (1.0 for an empty answer)."""
    wanted = set(answer_tokens(answer))
    if not wanted:
        return 1.0
    present = set(_WORD.findall(context.lower()))
    return len(wanted & present) / len(wanted)


def _entropy(counts: Iterable[int], n: int) -> float:
    return -sum(c / n * math.log(c / n) for c in counts if c)


def partition_scores(gold: Mapping[str, str], predicted: Mapping[str, str]) -> dict[str, float]:
    """1-VI, 1-1 and ARI (each x100) of ``predicted`` against ``gold`` over the messages of ``gold``.

    Both map message id -> cluster id; cluster ids must already be unique across groups. A
    message the prediction lacks counts as a cluster of its own.
    """
    ids = sorted(gold)
    n = len(ids)
    if n == 0:
        raise ValueError("no messages to score")
    pairs = Counter((gold[i], predicted.get(i, f"missing:{i}")) for i in ids)
    gold_sizes = Counter(gold[i] for i in ids)
    pred_sizes = Counter(predicted.get(i, f"missing:{i}") for i in ids)
    joint = _entropy(pairs.values(), n)
    vi = 2 * joint - _entropy(gold_sizes.values(), n) - _entropy(pred_sizes.values(), n)
    one_minus_vi = 100.0 * (1.0 - vi / math.log(n)) if n > 1 else 100.0

    gold_index = {label: k for k, label in enumerate(gold_sizes)}
    pred_index = {label: k for k, label in enumerate(pred_sizes)}
    table = np.zeros((len(gold_index), len(pred_index)))
    for (g, p), count in pairs.items():
        table[gold_index[g], pred_index[p]] = count
    rows, cols = linear_sum_assignment(table, maximize=True)
    one_to_one = 100.0 * float(table[rows, cols].sum()) / n

    def comb2(x: float) -> float:
        return x * (x - 1) / 2

    index = sum(comb2(c) for c in pairs.values())
    a = sum(comb2(c) for c in gold_sizes.values())
    b = sum(comb2(c) for c in pred_sizes.values())
    expected = a * b / comb2(n) if n > 1 else 0.0
    maximum = (a + b) / 2
    ari = 100.0 * (index - expected) / (maximum - expected) if maximum != expected else 100.0
    return {"1-VI": one_minus_vi, "1-1": one_to_one, "ARI": ari}
