"""The contract every search index keeps: written by the topic commit, read best impact first."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from memory_domain.model import ChatMessage, Role, Topic
from memory_domain.ports import MemoryStore
from memory_domain.search import SearchIndex, bm25_scores, query_terms
from tests.contracts.memory_store_builders import T0, at, revision


@dataclass
class Indexed:
    """A store and the search index it writes in its commits."""

    store: MemoryStore
    index: SearchIndex


def said(message_id: str, content: str, *, speaker: str = "Alice", minute: float = 0) -> ChatMessage:
    return ChatMessage(message_id, "g1", speaker.lower(), speaker, Role.USER, content, at(minute))


def topic_of(topic_id: str, message_ids: list[str]) -> Topic:
    return Topic(topic_id, f"title {topic_id}", "summary", tuple(message_ids), T0, T0)


async def integrate(
    indexed: Indexed, version: int, messages: list[ChatMessage], topic_id: str = "t1"
) -> None:
    await indexed.store.add_messages(messages, T0)
    ids = [m.message_id for m in messages]
    await indexed.store.commit_topic_update(
        "g1", version, [topic_of(topic_id, ids)], revision(version + 1, ids)
    )


CHAT = [
    said("m1", "We hiked the Sunday trail near the lake"),
    said("m2", "The lake was cold but the hike was great", speaker="Bob", minute=1),
    said("m3", "数据库迁移定在周六晚上", speaker="小王", minute=2),
    said("m4", "Who books the restaurant on Friday?", minute=3),
]


class SearchIndexContract:
    """Tests every search index passes; a subclass provides the ``indexed`` fixture."""

    @pytest.fixture
    def indexed(self) -> Indexed:
        raise NotImplementedError("a subclass provides the store and its search index")

    async def test_a_committed_message_is_found_by_its_terms(self, indexed: Indexed) -> None:
        await integrate(indexed, 0, CHAT)
        result = await indexed.index.search("g1", query_terms("lake hiking"), 10)
        assert result.documents == 4
        assert result.average_length > 0
        lake, hiking = result.hits  # "hiking" meets "hiked" and "hike" on one stem
        assert {p.message_id for p in lake.postings} == {"m1", "m2"}
        assert lake.frequency == 2
        assert {p.message_id for p in hiking.postings} == {"m1", "m2"}

    async def test_pending_messages_are_not_searchable_until_integrated(self, indexed: Indexed) -> None:
        await indexed.store.add_messages([said("p1", "lake house")], T0)
        result = await indexed.index.search("g1", query_terms("lake"), 10)
        assert result.documents == 0 and result.hits[0].postings == ()

    async def test_a_quarantined_message_is_not_indexed_until_requeued_and_integrated(
        self, indexed: Indexed
    ) -> None:
        store = indexed.store
        await store.add_messages(CHAT, T0)
        await store.quarantine_message("g1", "m2", "ModelError: refused", at(5))
        others = ["m1", "m3", "m4"]
        await store.commit_topic_update("g1", 0, [topic_of("t1", others)], revision(1, others))
        assert await indexed.index.reindex("g1") == 3  # the reindex skips it as well
        result = await indexed.index.search("g1", query_terms("lake"), 10)
        assert result.documents == 3 and {p.message_id for p in result.hits[0].postings} == {"m1"}
        assert await store.requeue_message("g1", "m2")
        await store.commit_topic_update("g1", 1, [topic_of("t1", ["m2"])], revision(2, ["m2"]))
        result = await indexed.index.search("g1", query_terms("lake"), 10)
        assert result.documents == 4 and {p.message_id for p in result.hits[0].postings} == {"m1", "m2"}

    async def test_chinese_is_found_by_bigrams_and_speakers_by_name(self, indexed: Indexed) -> None:
        await integrate(indexed, 0, CHAT)
        scores = bm25_scores(await indexed.index.search("g1", query_terms("什么时候迁移数据库"), 10))
        assert set(scores) == {"m3"}
        scores = bm25_scores(await indexed.index.search("g1", query_terms("what did Bob say"), 10))
        assert set(scores) == {"m2"}

    async def test_each_term_returns_its_best_postings_first_within_the_limit(self, indexed: Indexed) -> None:
        # m5 says "lake" three times in a short message: its impact is the highest.
        await integrate(indexed, 0, [*CHAT, said("m5", "lake lake lake", minute=5)])
        hits = (await indexed.index.search("g1", query_terms("lake"), 1)).hits[0]
        assert [p.message_id for p in hits.postings] == ["m5"]
        assert hits.frequency == 3  # the frequency counts every document, not just those returned

    async def test_frequencies_and_counts_grow_with_each_commit(self, indexed: Indexed) -> None:
        await integrate(indexed, 0, CHAT[:2])
        await integrate(indexed, 1, CHAT[2:], topic_id="t2")
        result = await indexed.index.search("g1", query_terms("lake restaurant"), 10)
        assert result.documents == 4
        assert [h.frequency for h in result.hits] == [2, 1]
        assert result.hits[1].postings[0].message_id == "m4"

    async def test_reindex_rebuilds_the_same_index_from_the_messages(self, indexed: Indexed) -> None:
        await integrate(indexed, 0, CHAT[:2])
        await integrate(indexed, 1, CHAT[2:], topic_id="t2")
        terms = query_terms("lake restaurant 数据库")
        before = await indexed.index.search("g1", terms, 10)
        assert await indexed.index.reindex("g1") == 4
        after = await indexed.index.search("g1", terms, 10)
        assert after.documents == before.documents
        assert [(h.term, h.frequency) for h in after.hits] == [(h.term, h.frequency) for h in before.hits]
        assert set(bm25_scores(after)) == set(bm25_scores(before))
        assert await indexed.index.reindex("g1") == 4  # again: nothing doubles
        assert (await indexed.index.search("g1", query_terms("lake"), 10)).hits[0].frequency == 2

    async def test_groups_are_kept_apart_and_an_unknown_group_is_empty(self, indexed: Indexed) -> None:
        await integrate(indexed, 0, CHAT)
        result = await indexed.index.search("other", query_terms("lake"), 10)
        assert result.documents == 0 and result.hits[0].frequency == 0
        assert await indexed.index.reindex("other") == 0
        with pytest.raises(Exception, match="group_id"):
            await indexed.index.search("bad group!", query_terms("lake"), 10)
