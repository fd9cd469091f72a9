"""One contract for the ``Embedder`` port, run against the in-memory and the OpenAI-compatible adapter."""

from __future__ import annotations

import math

import pytest

from memory_domain.embedding import Embedder, cosine

TEXTS = ["The release moves to Friday.", "周末一起去爬山吧?", "OK, I will update the changelog."]


class EmbedderContract:
    """Subclasses provide an async fixture ``embedder`` (a working Embedder)."""

    async def test_one_vector_per_text_in_order_of_one_dimension_and_finite(self, embedder: Embedder) -> None:
        vectors = await embedder.embed(TEXTS)

        assert len(vectors) == len(TEXTS)
        assert len({len(vector) for vector in vectors}) == 1
        assert len(vectors[0]) > 0
        assert all(isinstance(value, float) and math.isfinite(value) for v in vectors for value in v)
        singles = [(await embedder.embed([text]))[0] for text in TEXTS]
        assert singles == vectors

    async def test_the_same_text_gives_the_same_vector_and_different_texts_differ(
        self, embedder: Embedder
    ) -> None:
        first = await embedder.embed([TEXTS[0], TEXTS[1], TEXTS[0]])
        again = await embedder.embed([TEXTS[0]])

        assert first[0] == first[2] == again[0]
        assert first[0] != first[1]
        assert cosine(first[0], again[0]) == pytest.approx(1.0)

    async def test_nothing_to_embed_gives_nothing(self, embedder: Embedder) -> None:
        assert await embedder.embed([]) == []

    async def test_a_blank_text_is_refused(self, embedder: Embedder) -> None:
        with pytest.raises(ValueError, match="blank"):
            await embedder.embed(["fine", "  \n"])

    async def test_it_has_a_name(self, embedder: Embedder) -> None:
        assert isinstance(embedder.name, str) and embedder.name.strip()
