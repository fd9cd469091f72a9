"""A deterministic embedder for tests: hashed character n-grams, no model, no network.

It is a test double of the :class:`~memory_domain.embedding.Embedder` port, not a semantic
model: two texts come out close when they share character sequences ("hiking" and "hike"),
never because they mean the same thing ("hiking" and "trekking" are far apart). It keeps
the port's promises (one vector per text, one dimension, finite, stable across calls and
processes), records what it was asked, and can be told to fail, so that users' tests can
pin down how their code uses an embedder and how it falls back when one is down.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from memory_domain.embedding import Vector
from memory_domain.errors import ModelError

_SPACES = re.compile(r"\s+")
NGRAM_SIZES = (2, 3)


class InMemoryEmbedder:
    """Embeds each text as its character 2- and 3-grams hashed into ``dimension`` signed buckets.

    The hash is BLAKE2b, not Python's salted ``hash``: a vector is the same in every process.
    Vectors are L2-normalised. ``requests`` holds the texts of every ``embed`` call, in order;
    :meth:`fail_with` makes the following calls raise, until it is given ``None``.
    """

    def __init__(self, dimension: int = 64, name: str = "in-memory-hashed-ngrams") -> None:
        if dimension < 1:
            raise ValueError("dimension must be at least 1")
        self._dimension = dimension
        self._name = name
        self._failure: ModelError | None = None
        self.requests: list[tuple[str, ...]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def fail_with(self, error: ModelError | None) -> None:
        """Make every following :meth:`embed` call raise ``error`` (None: work again)."""
        self._failure = error

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one string")
        if any(not text.strip() for text in texts):
            raise ValueError("cannot embed a blank text")
        if not texts:
            return []
        self.requests.append(tuple(texts))
        if self._failure is not None:
            raise self._failure
        return [self.vector(text) for text in texts]

    def vector(self, text: str) -> Vector:
        """The vector of one text, as :meth:`embed` gives it (without recording a request)."""
        padded = f" {_SPACES.sub(' ', text.strip().lower())} "
        buckets = [0.0] * self._dimension
        for size in NGRAM_SIZES:
            for start in range(len(padded) - size + 1):
                digest = hashlib.blake2b(padded[start : start + size].encode(), digest_size=8).digest()
                number = int.from_bytes(digest, "big")
                # The lowest bit picks the sign: collisions then cancel out rather than pile up.
                buckets[(number >> 1) % self._dimension] += -1.0 if number & 1 else 1.0
        norm = math.hypot(*buckets)
        return tuple(value / norm for value in buckets) if norm else tuple(buckets)
