"""The semantic signal's pure helpers and the in-memory embedder users' tests rely on."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.in_memory.embedder import InMemoryEmbedder
from memory_domain.embedding import Embedder, blend, cosine, semantic_scores
from memory_domain.errors import ModelError
from tests.contracts.embedder_contract import EmbedderContract


class TestInMemoryEmbedder(EmbedderContract):
    @pytest.fixture
    async def embedder(self) -> AsyncIterator[Embedder]:
        yield InMemoryEmbedder()


def test_cosine_of_parallel_opposite_orthogonal_and_zero_vectors() -> None:
    assert cosine((1.0, 2.0), (2.0, 4.0)) == pytest.approx(1.0)
    assert cosine((1.0, 2.0), (-1.0, -2.0)) == pytest.approx(-1.0)
    assert cosine((1.0, 0.0), (0.0, 3.0)) == 0.0
    assert cosine((0.0, 0.0), (1.0, 1.0)) == 0.0


def test_cosine_survives_components_whose_squares_overflow() -> None:
    assert cosine((1e200, 1e200), (1e200, 1e200)) == pytest.approx(1.0)
    assert cosine((1e300, 0.0), (1e300, 1e300)) == pytest.approx(math.sqrt(0.5))
    assert cosine((math.inf, 1.0), (1.0, 1.0)) == 0.0


def test_cosine_refuses_vectors_of_different_dimensions() -> None:
    with pytest.raises(ValueError, match="different dimensions: 2 and 3"):
        cosine((1.0, 0.0), (1.0, 0.0, 0.0))


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8).flatmap(
        lambda a: st.tuples(st.just(a), st.lists(st.floats(-1e6, 1e6), min_size=len(a), max_size=len(a)))
    )
)
def test_cosine_always_lies_between_minus_one_and_one(pair: tuple[list[float], list[float]]) -> None:
    assert -1.0 <= cosine(*pair) <= 1.0


def test_blend_with_weight_zero_keeps_the_lexical_order() -> None:
    lexical = {"m1": 4.0, "m2": 8.0, "m3": 2.0}
    semantic = {"m1": 0.9, "m2": 0.1, "m3": 0.8}

    assert list(blend(lexical, semantic, 0.0)) == ["m2", "m1", "m3"]
    assert blend(lexical, semantic, 0.0) == {"m2": 1.0, "m1": 0.5, "m3": 0.25}


def test_blend_with_weight_one_follows_the_semantic_order() -> None:
    lexical = {"m1": 4.0, "m2": 8.0, "m3": 2.0}
    semantic = {"m1": 0.9, "m2": 0.1, "m3": 0.8}

    assert list(blend(lexical, semantic, 1.0)) == ["m1", "m3", "m2"]


def test_blend_mixes_lexical_scaled_by_the_best_with_semantic_scaled_min_max() -> None:
    # Cosines crowd into a narrow band for many models: only their spread among the candidates counts.
    blended = blend({"a": 10.0, "b": 5.0}, {"a": 0.80, "b": 0.90}, 0.3)

    assert blended["a"] == pytest.approx(0.7 * 1.0 + 0.3 * 0.0)
    assert blended["b"] == pytest.approx(0.7 * 0.5 + 0.3 * 1.0)
    assert list(blended) == ["a", "b"]


def test_a_candidate_only_one_signal_knows_scores_zero_in_the_other() -> None:
    # A topic no query term matched can still come up on meaning, and a message without a
    # vector keeps its lexical score.
    blended = blend({"m1": 3.0}, {"t1": 0.9, "m1": 0.5}, 0.5)

    assert blended == {"m1": pytest.approx(0.5), "t1": pytest.approx(0.5)}
    assert list(blended) == ["m1", "t1"]  # a tie goes by key


def test_semantic_scores_that_are_all_equal_say_nothing() -> None:
    assert blend({"a": 1.0, "b": 2.0}, {"a": 0.7, "b": 0.7}, 0.9) == {
        "b": pytest.approx(0.1),
        "a": pytest.approx(0.05),
    }


def test_without_semantic_scores_blend_is_the_lexical_order_and_without_any_scores_it_is_empty() -> None:
    assert list(blend({"a": 1.0, "b": 3.0, "c": 3.0}, {}, 0.3)) == ["b", "c", "a"]
    assert blend({"a": 0.0}, {}, 0.3) == {"a": 0.0}
    assert blend({}, {}, 0.3) == {}


def test_ties_are_broken_by_key_whatever_the_insertion_order() -> None:
    forward = blend({"x": 1.0, "y": 1.0, "z": 1.0}, {}, 0.3)
    backward = blend({"z": 1.0, "y": 1.0, "x": 1.0}, {}, 0.3)

    assert list(forward) == list(backward) == ["x", "y", "z"]


@pytest.mark.parametrize(
    ("lexical", "semantic", "weight", "message"),
    [
        ({"a": 1.0}, {}, 1.5, r"weight must lie in \[0, 1\]"),
        ({"a": 1.0}, {}, -0.1, r"weight must lie in \[0, 1\]"),
        ({"a": 1.0}, {}, math.nan, r"weight must lie in \[0, 1\]"),
        ({"a": -1.0}, {}, 0.3, "lexical scores must not be negative"),
        ({"a": math.inf}, {}, 0.3, r"lexical scores are not finite numbers for \['a'\]"),
        ({}, {"b": math.nan}, 0.3, r"semantic scores are not finite numbers for \['b'\]"),
    ],
)
def test_blend_refuses_bad_input(
    lexical: dict[str, float], semantic: dict[str, float], weight: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        blend(lexical, semantic, weight)


async def test_semantic_scores_embed_the_query_and_the_candidates_in_one_call() -> None:
    embedder = InMemoryEmbedder()
    texts = {"m1": "the hiking trip on Saturday", "t1": "budget of the release", "m2": "   "}

    scores = await semantic_scores(embedder, "hiking on saturday", texts)

    assert embedder.requests == [("hiking on saturday", texts["m1"], texts["t1"])]
    assert set(scores) == {"m1", "t1"}  # a blank text has no meaning to compare
    assert scores["m1"] > scores["t1"]
    query, m1 = embedder.vector("hiking on saturday"), embedder.vector(texts["m1"])
    assert scores["m1"] == pytest.approx(cosine(query, m1))


async def test_a_blank_query_asks_nothing() -> None:
    embedder = InMemoryEmbedder()

    assert await semantic_scores(embedder, " ", {"m1": "text"}) == {}
    assert embedder.requests == []


async def test_a_failing_embedder_raises_model_error_and_the_lexical_order_remains() -> None:
    embedder = InMemoryEmbedder()
    embedder.fail_with(ModelError("the embeddings server is down"))
    lexical = {"m1": 1.0, "m2": 2.0}

    with pytest.raises(ModelError, match="down"):
        await semantic_scores(embedder, "query", {"m1": "one", "m2": "two"})

    assert list(blend(lexical, {}, 0.3)) == ["m2", "m1"]
    embedder.fail_with(None)
    assert set(await semantic_scores(embedder, "query", {"m1": "one"})) == {"m1"}


def test_the_in_memory_vectors_are_unit_length_and_follow_shared_spelling_not_meaning() -> None:
    embedder = InMemoryEmbedder(dimension=128)
    date, day, launch = (
        embedder.vector(t) for t in ("the release date", "the release day", "when we launch")
    )

    assert math.hypot(*date) == pytest.approx(1.0)
    assert len(date) == embedder.dimension == 128
    assert cosine(date, day) > 0.5 > cosine(date, launch)


def test_in_memory_vectors_do_not_depend_on_case_or_spacing_and_are_the_same_in_every_process() -> None:
    embedder = InMemoryEmbedder(dimension=4)

    assert embedder.vector("Hello   World") == embedder.vector("hello world")
    # A pinned vector: Python's salted hash() would change it from one process to the next.
    assert embedder.vector("hello world") == pytest.approx((0.436436, 0.0, -0.872872, -0.218218), abs=1e-6)


async def test_the_in_memory_embedder_refuses_a_string_for_a_list() -> None:
    with pytest.raises(TypeError, match="not one string"):
        await InMemoryEmbedder().embed("one text")
