"""Which topics an offline rewrite keeps active, within ``MAX_ACTIVE_TOPICS``."""

from __future__ import annotations

from adapters.llm.offline_state import TopicState


def kept_states(
    states: list[TopicState], in_use: frozenset[int], max_topics: int, current_window: int | None
) -> list[TopicState]:
    """Every topic in use, plus as many untouched existing topics as fit, the most recent first.

    Conversations are kept before topics of notices. A topic of notices whose clock window has
    passed is finished: it is archived even when there is room, as far as the rewrite rules let
    one rewrite archive (at most half the existing topics, unless the topic cap requires more,
    and never all of them).
    """
    existing = [state for state in states if state.existing is not None]
    untouched = [state for state in existing if state.index not in in_use]
    untouched.sort(key=lambda state: (state.is_notices, -(state.last_ts or 0.0), state.index))
    room = max(max_topics - len(in_use), 0)
    kept = untouched[:room]
    new_count = sum(1 for index in in_use if states[index].existing is None)
    # Under the topic cap any number may go; otherwise at most half (and at least one).
    capped = len(existing) + new_count > max_topics
    may_archive = len(existing) if capped else max(1, len(existing) // 2)
    archived = len(untouched) - len(kept)
    existing_left = len(kept) + sum(1 for state in existing if state.index in in_use)
    for state in reversed(list(kept)):
        finished = state.is_notices and (state.window is None or state.window != current_window)
        if finished and archived < may_archive and existing_left > 1:
            kept.remove(state)
            archived += 1
            existing_left -= 1
    chosen = set(in_use) | {state.index for state in kept}
    return [state for state in states if state.index in chosen]
