"""The optional semantic signal of the memory context: the ``Embedder`` port and pure helpers.

Lexical (BM25) search finds the candidates; embeddings only re-rank them. A query embeds
itself and its candidates (a few hundred texts at most, whatever the group's history), so its
cost does not grow with the group; the adapter caches vectors by text, so the topics, items
and messages that come back query after query are embedded once.

Typical use in a query::

    semantic = await semantic_scores(embedder, query, {key: text for key, text in candidates})
    ranked = blend(lexical_scores, semantic, weight)

When the embedder fails (:class:`ModelError`), the caller ranks by ``blend(lexical, {}, weight)``
(the lexical order): a reply must not fail because the embeddings server is down.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Protocol

Vector = tuple[float, ...]


class Embedder(Protocol):
    """Turns texts into vectors whose cosine similarity says how close their meanings are.

    ``embed`` returns one vector per text, in the order of ``texts``, all of one dimension and
    of finite numbers; the same text gives the same vector for as long as the embedder lives.
    An empty sequence gives an empty list without any request. Every text must hold something
    besides white space (a blank text is a :class:`ValueError`: there is nothing to embed).
    Any other failure (transport, timeout, an unusable answer) is a
    :class:`~memory_domain.errors.ModelError` whose message holds no secret.
    """

    @property
    def name(self) -> str:
        """The model's name; vectors of different names are not comparable."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[Vector]: ...


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine similarity of two vectors of one dimension, in [-1, 1]; 0 when either is zero."""
    if len(a) != len(b):
        raise ValueError(f"vectors of different dimensions: {len(a)} and {len(b)}")
    similarity = _cosine(a, b)
    if not math.isfinite(similarity):
        # Components so large that their products overflow: the same angle, scaled down.
        scale_a, scale_b = max(map(abs, a), default=0.0), max(map(abs, b), default=0.0)
        if not (0 < scale_a < math.inf and 0 < scale_b < math.inf):
            return 0.0
        similarity = _cosine([x / scale_a for x in a], [y / scale_b for y in b])
    return max(-1.0, min(1.0, similarity)) if math.isfinite(similarity) else 0.0


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The plain formula: NaN when a product or a norm overflows."""
    norms = math.hypot(*a) * math.hypot(*b)
    if not math.isfinite(norms):
        return math.nan
    return sum(map(operator.mul, a, b)) / norms if norms else 0.0


async def semantic_scores(embedder: Embedder, query: str, texts: Mapping[str, str]) -> dict[str, float]:
    """The cosine of each candidate's text (by key) with ``query``, in one ``embed`` call.

    Blank texts are left out (they have no meaning to compare); a blank query gives ``{}``.
    Raises :class:`~memory_domain.errors.ModelError` when the embedder fails.
    """
    if not query.strip():
        return {}
    keys = [key for key, text in texts.items() if text.strip()]
    vectors = await embedder.embed([query, *(texts[key] for key in keys)])
    query_vector = vectors[0]
    return {key: cosine(query_vector, vector) for key, vector in zip(keys, vectors[1:], strict=True)}


def blend(lexical: Mapping[str, float], semantic: Mapping[str, float], weight: float) -> dict[str, float]:
    """Lexical and semantic scores of a candidate set, blended: ``(1 - weight) * lex + weight * sem``.

    The candidates are the keys of both mappings; a candidate missing from one scores 0 there.
    Both signals are brought to [0, 1] over the candidates first, each in the way its scale
    asks for:

    - lexical scores (BM25, never negative, 0 meaning "no term matched") are divided by the
      best one, so that 0 stays "no match" and a candidate half as good as the best scores 0.5;
    - semantic scores (cosines, whose range depends on the model: some never go below 0.6) are
      min-max scaled, so that only their order and relative gaps among the candidates count.
      When they are all equal they say nothing, and count 0 for everyone.

    The result runs best first, ties by key, so that the order is the same on every run.
    ``weight`` 0 keeps the lexical order; ``semantic`` empty (the embedder failed, or is not
    configured) does too.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight!r}")
    lexical_scaled = _scaled_by_best(lexical)
    semantic_scaled = _min_max(semantic)
    blended = {
        key: (1.0 - weight) * lexical_scaled.get(key, 0.0) + weight * semantic_scaled.get(key, 0.0)
        for key in lexical.keys() | semantic.keys()
    }
    return dict(sorted(blended.items(), key=lambda pair: (-pair[1], pair[0])))


def _scaled_by_best(scores: Mapping[str, float]) -> dict[str, float]:
    _check_finite(scores, "lexical")
    if any(score < 0 for score in scores.values()):
        raise ValueError("lexical scores must not be negative")
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return dict.fromkeys(scores, 0.0)
    return {key: score / best for key, score in scores.items()}


def _min_max(scores: Mapping[str, float]) -> dict[str, float]:
    _check_finite(scores, "semantic")
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high <= low:
        return dict.fromkeys(scores, 0.0)
    return {key: (score - low) / (high - low) for key, score in scores.items()}


def _check_finite(scores: Mapping[str, float], label: str) -> None:
    bad = sorted(key for key, score in scores.items() if not math.isfinite(score))
    if bad:
        raise ValueError(f"{label} scores are not finite numbers for {bad[:5]}")
