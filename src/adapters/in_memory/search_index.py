"""A dict-backed search index, kept by :class:`~adapters.in_memory.store.InMemoryMemoryStore`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from memory_domain.model import ChatMessage, validate_group_id
from memory_domain.search import (
    REINDEX_BATCH,
    IndexedDocument,
    Posting,
    SearchResult,
    TermHits,
    index_documents,
    postings_to_read,
)


@dataclass(slots=True)
class _GroupIndex:
    documents: dict[str, IndexedDocument] = field(default_factory=dict)
    postings: dict[str, dict[str, float]] = field(default_factory=dict)  # term -> message -> impact
    total_length: int = 0

    def add(self, indexed: Sequence[IndexedDocument]) -> None:
        for document in indexed:
            self.documents[document.message_id] = document
            self.total_length += document.length
            for term, weight in document.impacts.items():
                self.postings.setdefault(term, {})[document.message_id] = weight


class InMemorySearchIndex:
    """The search index in plain dicts, with the SQL index's semantics (one contract suite).

    The store calls :meth:`add` inside its commit; ``integrated`` reads a group's integrated
    messages back for :meth:`reindex`.
    """

    def __init__(self, integrated: Callable[[str], list[ChatMessage]]) -> None:
        self._groups: dict[str, _GroupIndex] = {}
        self._integrated = integrated

    def add(self, group_id: str, messages: Sequence[ChatMessage]) -> None:
        group = self._groups.setdefault(group_id, _GroupIndex())
        group.add(index_documents(messages, len(group.documents), group.total_length))

    async def search(self, group_id: str, terms: Sequence[str], per_term: int) -> SearchResult:
        validate_group_id(group_id)
        group = self._groups.get(group_id, _GroupIndex())
        documents = len(group.documents)
        average = group.total_length / documents if documents else 0.0
        terms = list(dict.fromkeys(terms))
        frequency = {term: len(group.postings.get(term, {})) for term in terms}
        limits = postings_to_read(documents, frequency, per_term)
        hits = []
        for term in terms:
            postings = group.postings.get(term, {})
            best = sorted(postings.items(), key=lambda item: (item[1], item[0]), reverse=True)[
                : limits.get(term, 0)
            ]
            hits.append(TermHits(term, frequency[term], tuple(Posting(m, w) for m, w in best)))
        return SearchResult(documents, average, tuple(hits))

    async def reindex(self, group_id: str) -> int:
        validate_group_id(group_id)
        rows = sorted(self._integrated(group_id), key=lambda message: message.message_id)
        group = _GroupIndex()
        self._groups[group_id] = group
        # In the same rounds as the SQL index, so that both weigh lengths alike.
        for start in range(0, len(rows), REINDEX_BATCH):
            chunk = rows[start : start + REINDEX_BATCH]
            group.add(index_documents(chunk, len(group.documents), group.total_length))
        return len(rows)
