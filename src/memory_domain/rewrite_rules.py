"""The rules a model's topic rewrite must keep before anything is written."""

from __future__ import annotations

from memory_domain.errors import InvalidRewrite
from memory_domain.model import TopicDraft, TopicModelInput, TopicRewrite

MAX_TITLE_LENGTH = 120
MAX_SUMMARY_LENGTH = 2_000
MAX_ACTIVE_TOPICS = 50


def validate_rewrite(model_input: TopicModelInput, rewrite: TopicRewrite) -> None:
    """Raise :class:`InvalidRewrite` naming the first broken rule; return None when the rewrite is usable.

    - every ``topic_id`` is an id of a current topic, or None for a new topic, and no id repeats;
    - every title and summary is non-empty and within its length limit;
    - every new message is assigned to exactly one topic, and only new messages are assigned;
    - at most ``MAX_ACTIVE_TOPICS`` topics stay active;
    - when there were topics, at least one of them is kept (a rewrite that would drop every
      existing topic is refused: it is how a confused model wipes a memory), and at most half
      of them are archived at once unless the topic cap requires more.
    """
    known = {topic.topic_id for topic in model_input.topics}
    new_ids = {message.message_id for message in model_input.new_messages}
    if not rewrite.topics:
        raise InvalidRewrite("the rewrite has no topics")
    if len(rewrite.topics) > MAX_ACTIVE_TOPICS:
        raise InvalidRewrite(f"the rewrite has {len(rewrite.topics)} topics; at most {MAX_ACTIVE_TOPICS}")
    seen_topics: set[str] = set()
    assigned: dict[str, int] = {}
    for index, draft in enumerate(rewrite.topics):
        label = draft.topic_id or f"new topic #{index + 1}"
        if draft.topic_id is not None:
            if draft.topic_id not in known:
                raise InvalidRewrite(f"topic id {draft.topic_id!r} is not a current topic of the group")
            if draft.topic_id in seen_topics:
                raise InvalidRewrite(f"topic id {draft.topic_id!r} appears more than once")
            seen_topics.add(draft.topic_id)
        if not draft.title.strip():
            raise InvalidRewrite(f"{label}: the title is empty")
        if len(draft.title) > MAX_TITLE_LENGTH:
            raise InvalidRewrite(f"{label}: the title is longer than {MAX_TITLE_LENGTH} characters")
        if not draft.summary.strip():
            raise InvalidRewrite(f"{label}: the summary is empty")
        if len(draft.summary) > MAX_SUMMARY_LENGTH:
            raise InvalidRewrite(f"{label}: the summary is longer than {MAX_SUMMARY_LENGTH} characters")
        if draft.topic_id is None and not draft.new_message_ids:
            raise InvalidRewrite(f"{label}: a new topic must be built from at least one new message")
        for message_id in draft.new_message_ids:
            if message_id not in new_ids:
                raise InvalidRewrite(f"{label}: message {message_id!r} is not one of this update's messages")
            assigned[message_id] = assigned.get(message_id, 0) + 1
    twice = sorted(message_id for message_id, count in assigned.items() if count > 1)
    if twice:
        raise InvalidRewrite(f"messages assigned to more than one topic: {', '.join(twice[:5])}")
    missing = sorted(new_ids - assigned.keys())
    if missing:
        raise InvalidRewrite(f"messages assigned to no topic: {', '.join(missing[:5])}")
    if known and not seen_topics:
        raise InvalidRewrite(f"the rewrite would drop all {len(known)} existing topics")
    dropped = len(known) - len(seen_topics)
    if dropped > max(1, len(known) // 2) and len(known) + len(rewrite.topics) - len(seen_topics) <= (
        MAX_ACTIVE_TOPICS
    ):
        # Archiving most of a memory at once is what a confused or manipulated model does; the
        # topic cap is the one reason to archive many, and then only as many as it requires.
        raise InvalidRewrite(f"the rewrite would archive {dropped} of {len(known)} existing topics at once")


def validate_language(model_input: TopicModelInput, rewrite: TopicRewrite) -> None:
    """Raise :class:`InvalidRewrite` when a topic is not written in the language of what it is made of.

    A title and summary without a single CJK character for messages written in Chinese (or
    Japanese, Korean), or mostly CJK for messages in a Latin script, is a language model
    answering in another language than the chat's. A mixed chat, or a topic whose messages
    mix scripts, passes. For model answers (the offline model writes from the messages'
    own words); run after :func:`validate_rewrite`, which checks the ids used here.
    """
    by_id = {topic.topic_id: topic for topic in model_input.topics}
    contents = {message.message_id: message.content for message in model_input.new_messages}
    for index, draft in enumerate(rewrite.topics):
        source = [contents[message_id] for message_id in draft.new_message_ids]
        if draft.topic_id is not None:
            source += [by_id[draft.topic_id].title, by_id[draft.topic_id].summary]
        _same_script(draft, source, draft.topic_id or f"new topic #{index + 1}")


# Shares of CJK in the letters (a CJK character weighs as three letters: about a short word)
# beyond which a text is taken as written in Chinese / Japanese / Korean, or in a Latin script.
_CJK_SIDE = 0.8
_LATIN_SIDE = 0.2


def _cjk_share(texts: list[str]) -> float | None:
    cjk = other = 0
    for text in texts:
        for char in text:
            if "\u3400" <= char <= "\u9fff" or "\u3040" <= char <= "\u30ff" or "\uac00" <= char <= "\ud7af":
                cjk += 1
            elif char.isalpha():
                other += 1
    return None if not cjk + other else cjk * 3 / (cjk * 3 + other)


def _same_script(draft: TopicDraft, source: list[str], label: str) -> None:
    chat, answer = _cjk_share(source), _cjk_share([draft.title, draft.summary])
    if chat is None or answer is None:
        return
    if (chat >= _CJK_SIDE and answer == 0) or (chat <= _LATIN_SIDE and answer >= _CJK_SIDE):
        written = "CJK" if chat >= _CJK_SIDE else "a Latin script"
        raise InvalidRewrite(
            f"{label}: the title and summary are not in the language of its messages ({written})"
        )
