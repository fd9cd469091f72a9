"""Re-deriving a group's topic memory from its whole history, one checkpointed batch at a time.

Operators run it after changing the model (or its prompt): the group's integrated messages are
replayed, oldest integration first, into a fresh set of topics kept in the step's checkpoint;
the live memory keeps serving and keeps being updated meanwhile. When the replay has caught up,
the rebuilt topics replace the live ones in one revision guarded by the memory's version (the
old topics are archived, nothing is erased). Messages integrated by live updates during the
rebuild come later in the replay order, so the replay catches up with them before it swaps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from memory_domain.errors import InvalidRewrite, StaleVersion
from memory_domain.model import (
    HistoryCursor,
    Topic,
    TopicModelInput,
    TopicRevision,
    TopicStatus,
    validate_group_id,
)
from memory_domain.ports import Clock, IdGenerator, MemoryStore, MessageHistory, TopicModel
from memory_domain.rewrite_rules import validate_rewrite
from memory_domain.topic_merge import merge_rewrite

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RebuildStep:
    """The outcome of one step: the checkpoint to keep, or the final result when ``done``."""

    state: dict[str, Any]
    done: bool
    progress: float
    message: str


class TopicRebuilder:
    """One step of a rebuild from a JSON checkpoint (None to start)."""

    def __init__(
        self,
        store: MemoryStore,
        history: MessageHistory,
        model: TopicModel,
        clock: Clock,
        ids: IdGenerator,
        batch_size: int,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._store = store
        self._history = history
        self._model = model
        self._clock = clock
        self._ids = ids
        self._batch_size = batch_size

    async def step(self, group_id: str, checkpoint: dict[str, Any] | None) -> RebuildStep:
        validate_group_id(group_id)
        state = _State.load(checkpoint)
        total = await self._history.count_integrated(group_id)
        batch = await self._history.integrated_after(group_id, state.cursor, self._batch_size)
        if batch:
            messages = tuple(message for _, message in batch)
            model_input = TopicModelInput(group_id, tuple(state.topics), messages)
            rewrite = await self._model.rewrite_topics(model_input)
            validate_rewrite(model_input, rewrite)
            changed, _ = merge_rewrite(state.topics, rewrite, self._clock.now(), self._ids)
            by_id = {topic.topic_id: topic for topic in state.topics}
            by_id.update({topic.topic_id: topic for topic in changed})
            state.topics = [t for t in by_id.values() if t.status is TopicStatus.ACTIVE]
            state.cursor = batch[-1][0]
            state.replayed += len(batch)
            state.model = rewrite.usage.model
            state.prompt_tokens += rewrite.usage.prompt_tokens
            state.completion_tokens += rewrite.usage.completion_tokens
            progress = min(0.99, state.replayed / max(total, 1))
            return RebuildStep(
                state.dump(), False, progress, f"replayed {state.replayed} of {total} messages"
            )
        if not state.topics:
            return RebuildStep(state.dump(), True, 1.0, "the group has no integrated messages: nothing to do")
        try:
            revision = await self._swap(group_id, state)
        except StaleVersion:
            # A live update committed meanwhile; its messages are next in the replay.
            return RebuildStep(state.dump(), False, 0.99, "caught a live update; replaying it first")
        result = {**state.dump(), "revision": revision, "topics": len(state.topics)}
        return RebuildStep(result, True, 1.0, f"rebuilt {len(state.topics)} topics as revision {revision}")

    async def _swap(self, group_id: str, state: _State) -> int:
        live = await self._store.get_topic_memory(group_id)
        now = self._clock.now()
        archived = [replace(topic, status=TopicStatus.ARCHIVED, updated_at=now) for topic in live.topics]
        live_ids = {topic.topic_id for topic in live.topics}
        fresh = [
            replace(topic, topic_id=self._ids.new_id()) if topic.topic_id in live_ids else topic
            for topic in state.topics
        ]
        revision = TopicRevision(
            group_id=group_id,
            revision=live.version + 1,
            created_at=now,
            message_ids=(),
            model=state.model or self._model.name,
            prompt_tokens=state.prompt_tokens,
            completion_tokens=state.completion_tokens,
            duration_ms=0,
            diff={
                "rebuild": {"replayed": state.replayed},
                "added": [topic.topic_id for topic in fresh],
                "updated": [],
                "archived": sorted(live_ids),
                "assignments": {},
            },
        )
        await self._store.commit_topic_update(group_id, live.version, [*archived, *fresh], revision)
        logger.info(
            "group %s: topics rebuilt from %d messages (revision %d)",
            group_id,
            state.replayed,
            revision.revision,
        )
        return revision.revision


@dataclass(slots=True)
class _State:
    cursor: HistoryCursor | None
    topics: list[Topic]
    replayed: int = 0
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> _State:
        if not data:
            return cls(cursor=None, topics=[])
        try:
            cursor = data.get("cursor")
            return cls(
                cursor=None
                if cursor is None
                else HistoryCursor(int(cursor[0]), datetime.fromisoformat(cursor[1]), str(cursor[2])),
                topics=[_topic_from_json(item) for item in data.get("topics", [])],
                replayed=int(data.get("replayed", 0)),
                model=str(data.get("model", "")),
                prompt_tokens=int(data.get("prompt_tokens", 0)),
                completion_tokens=int(data.get("completion_tokens", 0)),
            )
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise InvalidRewrite(f"the rebuild checkpoint is unreadable: {error}") from None

    def dump(self) -> dict[str, Any]:
        cursor = self.cursor
        return {
            "cursor": None
            if cursor is None
            else [cursor.revision, cursor.sent_at.isoformat(), cursor.message_id],
            "topics": [_topic_to_json(topic) for topic in self.topics],
            "replayed": self.replayed,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


def _topic_to_json(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.topic_id,
        "title": topic.title,
        "summary": topic.summary,
        "message_ids": list(topic.message_ids),
        "created_at": topic.created_at.isoformat(),
        "updated_at": topic.updated_at.isoformat(),
    }


def _topic_from_json(data: dict[str, Any]) -> Topic:
    return Topic(
        topic_id=str(data["id"]),
        title=str(data["title"]),
        summary=str(data["summary"]),
        message_ids=tuple(str(m) for m in data["message_ids"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )
