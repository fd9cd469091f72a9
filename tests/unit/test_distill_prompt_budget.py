"""The evolution prompt stays within its character budget, whatever the group wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from adapters.llm.distill_budget import DEFAULT_MAX_PROMPT_CHARS, SHORTENED
from adapters.llm.distill_prompt import DistillAnswer, ItemAnswer, build_prompt, to_distillation
from adapters.llm.json_answer import DATA_BEGIN, DATA_END
from memory_domain.group_model import DistillInput, ItemKind, MemoryItem
from memory_domain.model import ChatMessage, ModelUsage, Role, Topic

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def huge_input(messages: int = 400, topics: int = 100, items: int = 200) -> DistillInput:
    chat = tuple(
        ChatMessage(f"m{i:03d}", "g", "u", "u", Role.USER, "日志<" * 400, T0 + timedelta(minutes=i))
        for i in range(messages)
    )
    changed = tuple(
        Topic(f"t{k:03d}", f"title {k}", "摘要" * 600, (f"m{k:03d}",), T0, T0) for k in range(topics)
    )
    live = tuple(
        MemoryItem(f"i{n:03d}", ItemKind.FACT, "事实" * 250, ("t000",), ("m000",), T0, T0)
        for n in range(items)
    )
    return DistillInput("g", live, changed, chat)


def document_of(user: str) -> dict:  # type: ignore[type-arg]
    return json.loads(user.split(DATA_BEGIN)[1].split(DATA_END)[0])  # type: ignore[no-any-return]


def test_a_group_with_long_messages_gets_a_prompt_within_the_budget_newest_messages_kept() -> None:
    distil_input = huge_input()
    prompt = build_prompt(distil_input)
    assert len(prompt.system) + len(prompt.user) <= DEFAULT_MAX_PROMPT_CHARS
    document = document_of(prompt.user)
    # Every changed topic is shown (shortened); the newest messages are kept, the oldest go.
    assert [t["topic_id"] for t in document["changed_topics"]] == [t.topic_id for t in distil_input.topics]
    assert all(t["summary"].endswith(SHORTENED) for t in document["changed_topics"])
    shown = [m["message_id"] for m in document["new_messages"]]
    assert shown and shown[-1] == "m399" and shown == sorted(shown)
    left_out = document["left_out_for_space"]
    assert left_out["older_messages"] == 400 - len(shown)
    assert left_out["memory_items"] == 200 - len(document["memory_items"])


def test_a_small_group_gets_its_data_whole() -> None:
    distil_input = huge_input(messages=5, topics=2, items=3)
    document = document_of(build_prompt(distil_input).user)
    assert "left_out_for_space" not in document and len(document["new_messages"]) == 5
    assert document["memory_items"][0]["text"] == "事实" * 250


def test_a_shortened_text_repeated_by_the_model_keeps_the_item_unchanged() -> None:
    distil_input = huge_input()
    shown = document_of(build_prompt(distil_input).user)["memory_items"][0]
    assert shown["text"].endswith(SHORTENED)
    answer = DistillAnswer(items=[ItemAnswer(item_id=shown["item_id"], text=shown["text"])])
    [draft] = to_distillation(answer, distil_input, ModelUsage("m")).items
    assert (draft.item_id, draft.text) == (shown["item_id"], None)
