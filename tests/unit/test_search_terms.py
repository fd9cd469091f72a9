"""Terms and BM25 of the search index: English stems, Chinese bigrams, speakers, rare words first."""

from __future__ import annotations

from collections import Counter

from memory_domain.model import ChatMessage, Role
from memory_domain.search import (
    MIN_POSTINGS,
    Posting,
    SearchResult,
    TermHits,
    bm25_scores,
    document_terms,
    idf,
    impact,
    postings_to_read,
    query_terms,
    tokens,
)
from tests.support.world import START


def test_english_words_meet_on_their_stems_and_stop_words_are_left_out() -> None:
    assert tokens("hike hikes hiked hiking") == ["hik"] * 4
    assert tokens("What did the painting show?") == ["paint", "show"]
    assert tokens("running runs") == ["run", "run"]
    assert tokens("Libraries library") == ["library", "library"]


def test_chinese_is_cut_into_bigrams_and_a_lone_character_kept() -> None:
    assert tokens("数据库迁移") == ["数据", "据库", "库迁", "迁移"]
    assert tokens("猫") == ["猫"]
    # "上线时间" and "什么时候上线" meet on "上线" without a segmenter.
    assert set(tokens("上线时间")) & set(tokens("什么时候上线")) == {"上线"}


def test_mixed_text_keeps_both_scripts_and_numbers() -> None:
    assert tokens("周六把 PostgreSQL 升到 16") == ["postgresql", "16", "周六", "六把", "升到"]
    assert tokens("a 1 b") == ["1"]  # single letters say nothing, a digit may be an answer


def test_a_query_has_each_term_once_in_order() -> None:
    assert query_terms("lake, the lake and LAKES") == ["lak"]
    assert len(query_terms(" ".join(f"word{i}" for i in range(100)))) == 32


def test_a_message_document_holds_its_speaker_as_a_term() -> None:
    message = ChatMessage("m1", "g1", "u1", "Caroline", Role.USER, "I love pottery", START)
    assert document_terms(message) == Counter({tokens("Caroline")[0]: 1, "lov": 1, "pottery": 1})


def test_a_rare_term_outweighs_a_common_one_and_short_documents_outweigh_long_ones() -> None:
    assert idf(1_000, 1) > idf(1_000, 500) > 0
    assert impact(1, 5, 20.0) > impact(1, 80, 20.0)
    assert impact(3, 20, 20.0) > impact(1, 20, 20.0)
    result = SearchResult(
        documents=100,
        average_length=10.0,
        hits=(
            TermHits("common", 60, (Posting("a", 1.0), Posting("b", 1.0))),
            TermHits("rare", 1, (Posting("b", 1.0),)),
        ),
    )
    scores = bm25_scores(result)
    assert scores["b"] > scores["a"] > 0


def test_a_query_reads_many_postings_of_its_rare_terms_and_few_of_its_common_ones() -> None:
    limits = postings_to_read(100_000, {"pottery": 40, "said": 60_000, "nobody": 0}, 400)
    assert limits["pottery"] == 400
    assert MIN_POSTINGS <= limits["said"] < 50
    assert "nobody" not in limits  # a term no message holds is not read at all
    assert postings_to_read(100, {"a": 3}, 0) == {}


def test_chinese_function_words_do_not_match_anything() -> None:
    # "今天中午吃什么？" shares only "什么" with the question: it must not be an answer.
    assert set(tokens("数据库什么时候切换？")) & set(tokens("今天中午吃什么？")) == set()
    assert "切换" in tokens("数据库什么时候切换？")
