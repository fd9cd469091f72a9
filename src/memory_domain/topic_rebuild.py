"""Re-deriving a group's topic memory from its whole history, one checkpointed batch at a time.

Operators run it after changing the model (or its prompt): the group's integrated messages are
replayed, oldest integration first, into a fresh set of topics. The checkpoint keeps the cursor
and the active topics' titles and summaries; which topic each message went to, and the topics
the replay archived, are staged apart (:class:`~memory_domain.ports.RebuildStaging`), so the
checkpoint stays small however long the history. Each step reads its batch after the cursor
(a keyset read) and counts the history only once, at the start: a step costs the same at the
end of a long history as at its beginning. The live memory keeps serving and keeps being
updated meanwhile. When the replay has caught up, the rebuilt topics replace the live ones in
one revision guarded by the version read *before* the replay was found complete: a live update
committed after that read makes the swap stale, and its messages are replayed first. The old
topics are archived, nothing is erased.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from memory_domain.errors import InvalidRewrite, StaleVersion
from memory_domain.model import (
    ChatMessage,
    HistoryCursor,
    Topic,
    TopicModelInput,
    TopicRevision,
    TopicStatus,
    validate_group_id,
)
from memory_domain.ports import Clock, IdGenerator, MemoryStore, MessageHistory, RebuildStaging, TopicModel
from memory_domain.rewrite_rules import validate_rewrite
from memory_domain.topic_merge import merge_rewrite

logger = logging.getLogger(__name__)

# Message ids a checkpointed topic keeps (its newest): enough for the model to place replies
# to recent messages; the full provenance is staged.
RECENT_IDS = 30


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
        staging: RebuildStaging,
        model: TopicModel,
        clock: Clock,
        ids: IdGenerator,
        batch_size: int,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._store = store
        self._history = history
        self._staging = staging
        self._model = model
        self._clock = clock
        self._ids = ids
        self._batch_size = batch_size

    async def step(self, group_id: str, checkpoint: dict[str, Any] | None, key: str) -> RebuildStep:
        """Replay the next batch, or swap the rebuilt topics in when the replay has caught up.

        ``key`` names this rebuild (its task id); a step that runs again after a crash, the swap
        included, has the same effect as running once.
        """
        validate_group_id(group_id)
        state = _State.load(checkpoint)
        if state.cursor is None and not state.topics:
            await self._staging.discard(group_id, key)  # a fresh start: no leftovers of a crash
        # The version is read before the history: see the module's docstring.
        live = await self._store.get_topic_memory(group_id)
        if state.total is None:
            # Once per rebuild: for the progress only, which live updates may outgrow.
            state.total = await self._history.count_integrated(group_id)
        if state.legacy_archived:
            # A checkpoint of an earlier version carried its archived topics: staged now.
            await self._staging.archive(group_id, key, 0, state.legacy_archived)
            state.legacy_archived = []
        batch = await self._history.integrated_after(group_id, state.cursor, self._batch_size)
        if batch:
            await self._replay(group_id, key, state, batch)
            total = max(state.total, state.replayed)
            progress = min(0.99, state.replayed / max(total, 1))
            return RebuildStep(
                state.dump(), False, progress, f"replayed {state.replayed} of {total} messages"
            )
        if await self._already_swapped(group_id, key):
            return RebuildStep(state.dump(), True, 1.0, "the rebuilt topics were already swapped in")
        if not state.topics:
            return RebuildStep(state.dump(), True, 1.0, "the group has no integrated messages: nothing to do")
        try:
            revision = await self._swap(group_id, key, state, live.version, live.topics)
        except StaleVersion:
            # A live update committed meanwhile; its messages are next in the replay.
            return RebuildStep(state.dump(), False, 0.99, "caught a live update; replaying it first")
        await self._staging.discard(group_id, key)
        result = {**state.dump(), "revision": revision}
        return RebuildStep(result, True, 1.0, f"rebuilt {len(state.topics)} topics as revision {revision}")

    async def _replay(
        self, group_id: str, key: str, state: _State, batch: list[tuple[HistoryCursor, ChatMessage]]
    ) -> None:
        messages = tuple(message for _, message in batch)
        model_input = TopicModelInput(group_id, tuple(state.topics), messages)
        rewrite = await self._model.rewrite_topics(model_input)
        validate_rewrite(model_input, rewrite)
        changed, diff = merge_rewrite(state.topics, rewrite, self._clock.now(), self._ids)
        position = {message.message_id: state.replayed + index for index, message in enumerate(messages)}
        await self._staging.stage(
            group_id,
            key,
            [(m, topic_id, position[m]) for topic_id, ids in diff["assignments"].items() for m in ids],
        )
        by_id = {topic.topic_id: topic for topic in state.topics}
        archived: list[Topic] = []
        for topic in changed:
            if topic.status is TopicStatus.ARCHIVED:
                # Archived during the replay (the topic cap): staged, and written as archived.
                by_id.pop(topic.topic_id, None)
                archived.append(topic)
            else:
                by_id[topic.topic_id] = replace(topic, message_ids=topic.message_ids[-RECENT_IDS:])
        # Also when none was archived: a step run again replaces what its first run staged.
        await self._staging.archive(group_id, key, state.replayed, archived)
        state.archived_count += len(archived)
        state.topics = list(by_id.values())
        state.cursor = batch[-1][0]
        state.replayed += len(batch)
        state.model = rewrite.usage.model
        state.prompt_tokens += rewrite.usage.prompt_tokens
        state.completion_tokens += rewrite.usage.completion_tokens

    async def _already_swapped(self, group_id: str, key: str) -> bool:
        latest = await self._store.list_revisions(group_id, 1)
        rebuild = latest[0].diff.get("rebuild") if latest else None
        return isinstance(rebuild, dict) and rebuild.get("key") == key

    async def _swap(
        self, group_id: str, key: str, state: _State, version: int, live_topics: tuple[Topic, ...]
    ) -> int:
        now = self._clock.now()
        staged = await self._staging.staged(group_id, key)
        live_ids = {topic.topic_id for topic in live_topics}
        old = [replace(topic, status=TopicStatus.ARCHIVED, updated_at=now) for topic in live_topics]
        fresh: list[Topic] = []
        assignments: dict[str, tuple[str, ...]] = {}
        archived = await self._staging.archived(group_id, key)
        for topic in [*state.topics, *archived]:
            topic_id = self._ids.new_id() if topic.topic_id in live_ids else topic.topic_id
            ids = tuple(staged.get(topic.topic_id, topic.message_ids))
            # The topic row keeps the newest ids; every replayed message is filed in its topic.
            rebuilt = replace(topic, topic_id=topic_id, message_ids=(), message_count=0)
            fresh.append(rebuilt.with_messages(ids))
            assignments[topic_id] = ids
        revision = TopicRevision(
            group_id=group_id,
            revision=version + 1,
            created_at=now,
            message_ids=(),
            model=state.model or self._model.name,
            prompt_tokens=state.prompt_tokens,
            completion_tokens=state.completion_tokens,
            duration_ms=0,
            diff={
                "rebuild": {"key": key, "replayed": state.replayed},
                "added": [t.topic_id for t in fresh if t.status is TopicStatus.ACTIVE],
                "updated": [],
                "archived": sorted(live_ids),
                "assignments": {},
            },
        )
        await self._store.commit_topic_update(
            group_id, version, [*old, *fresh], revision, assignments=assignments
        )
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
    archived_count: int = 0
    # Archived topics found in a checkpoint written before they were staged; staged at once.
    legacy_archived: list[Topic] = field(default_factory=list)
    total: int | None = None  # the integrated messages counted when the rebuild began
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
                archived_count=int(data.get("archived_count", 0)),
                legacy_archived=[
                    replace(_topic_from_json(item), status=TopicStatus.ARCHIVED)
                    for item in data.get("archived", [])
                ],
                total=None if data.get("total") is None else int(data["total"]),
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
            "archived_count": self.archived_count,
            "total": self.total,
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
        "message_count": topic.message_count,
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
        # Checkpoints written before topics counted their messages count the ids they list.
        message_count=int(data.get("message_count", 0)),
    )
