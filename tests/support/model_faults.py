"""A model that misbehaves on a schedule, as the ``responder`` of the local OpenAI-compatible server.

Each chat group of a run is assigned one fault by the id of its messages (``mf-<fault>-...``).
While :attr:`ScheduledModel.failing` is set, every request about a group gets that group's
fault; otherwise (and for groups with no fault) a valid rewrite made from the request: the
current topics kept, the new messages filed into the first topic (or a new one), in English.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.llm.json_answer import DATA_BEGIN, DATA_END
from tests.support.openai_server import RecordedRequest, ScriptedResponse

FAULTS: dict[str, str] = {
    # fault -> what the failure recorded for the group says
    "timeout": "did not answer within",
    "http-500": "HTTP 500",
    "http-429": "HTTP 429",
    "malformed-json": "not valid JSON",
    "schema-violation": "does not match the schema",
    "other-language": "not in the language of its messages",
    "drops-every-topic": "would drop all",
}


def message_id(fault: str, number: int) -> str:
    return f"mf-{fault}-m{number:04d}"


def group_id(fault: str) -> str:
    return f"mf-{fault}"


def _document(request: RecordedRequest) -> dict[str, Any]:
    user = request.message_content("user")
    inside = user.split(DATA_BEGIN, 1)[1].split(DATA_END, 1)[0]
    document: dict[str, Any] = json.loads(inside)
    return document


def is_topic_rewrite(request: RecordedRequest) -> bool:
    """Whether the request asks for a topic rewrite (not, say, a group-memory evolution)."""
    return "current_topics" in _document(request)


def fault_of(request: RecordedRequest) -> str | None:
    """The fault of the group a topic rewrite is about (None: always good answers, or another request)."""
    if not is_topic_rewrite(request):
        return None
    for item in _document(request).get("new_messages", []):
        name = str(item.get("message_id", ""))
        for fault in FAULTS:
            if name.startswith(f"mf-{fault}-"):
                return fault
    return None


def good_answer(request: RecordedRequest) -> ScriptedResponse:
    document = _document(request)
    new_ids = [item["message_id"] for item in document["new_messages"]]
    topics = [
        {"topic_id": t["topic_id"], "title": t["title"], "summary": t["summary"], "message_ids": []}
        for t in document["current_topics"]
    ]
    if topics:
        topics[0]["message_ids"] = new_ids
        topics[0]["summary"] = f"{topics[0]['summary']} More plans were made."[:1_900]
    else:
        topics = [
            {
                "topic_id": None,
                "title": "Weekend plans",
                "summary": "The group plans the weekend.",
                "message_ids": new_ids,
            }
        ]
    return ScriptedResponse.json_answer({"topics": topics})


class ScheduledModel:
    """The responder: each group's fault while ``failing``, good answers otherwise."""

    def __init__(self, *, timeout_delay: float, retry_after_seconds: int) -> None:
        self.failing = False
        self.timeout_delay = timeout_delay
        self.retry_after_seconds = retry_after_seconds

    def __call__(self, request: RecordedRequest) -> ScriptedResponse:
        if not is_topic_rewrite(request):
            # Group-memory evolutions are not what this run tests: they fail (and are retried later).
            return ScriptedResponse.error(503, "this test server answers topic rewrites only")
        fault = fault_of(request)
        if not self.failing or fault is None:
            return good_answer(request)
        return self.fault_answer(fault, request)

    def fault_answer(self, fault: str, request: RecordedRequest) -> ScriptedResponse:
        document = _document(request)
        new_ids = [item["message_id"] for item in document["new_messages"]]
        if fault == "timeout":
            return ScriptedResponse.slow(self.timeout_delay)
        if fault == "http-500":
            return ScriptedResponse.error(500, "the model server is overloaded")
        if fault == "http-429":
            retry_after = (("Retry-After", str(self.retry_after_seconds)),)
            return ScriptedResponse.error(429, "rate limited", headers=retry_after)
        if fault == "malformed-json":
            return ScriptedResponse.completion('{"topics": [{"topic_id": null, "title": "Weekend')
        if fault == "schema-violation":
            return ScriptedResponse.json_answer({"topics": [{"name": "no title", "summary": 3}]})
        if fault == "other-language":
            kept = [
                {
                    "topic_id": t["topic_id"],
                    "title": "周末计划",
                    "summary": "大家在计划周末的活动。",
                    "message_ids": [],
                }
                for t in document["current_topics"]
            ]
            kept[0]["message_ids"] = new_ids
            return ScriptedResponse.json_answer({"topics": kept})
        # drops-every-topic: one new topic instead of all the existing ones
        return ScriptedResponse.json_answer(
            {
                "topics": [
                    {
                        "topic_id": None,
                        "title": "Everything",
                        "summary": "All in one.",
                        "message_ids": new_ids,
                    }
                ]
            }
        )
