"""What the chaos run found, as figures in the shape of ``bench/report.py``."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.chaos_checks import MessageAudit, Recovery, TaskAudit
from bench.chaos_load import LoadLog, Size, VersionWatch
from bench.chaos_workers import UnplannedExit
from bench.report import Figure

RECOVERY_TARGET_SECONDS = 60.0
# A worker that exits on its own after the services are all back (plus this grace) is looping.
CRASH_LOOP_GRACE_SECONDS = 15.0


@dataclass
class Outcome:
    size: Size
    settings: dict[str, str]
    load: LoadLog
    load_seconds: float
    messages: MessageAudit
    tasks: TaskAudit
    versions: VersionWatch
    recovery: Recovery
    faults: list[tuple[str, float, float]]
    kills: int
    unplanned: list[UnplannedExit]
    alive: int
    last_fault: float
    drained_at: float | None
    evolved_at: float | None
    lagging: list[str]


def _examples(items: Sequence[str]) -> str:
    return "; ".join(items[:3]) + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")


def _exit_reasons(exits: Sequence[UnplannedExit]) -> str:
    """The distinct last error lines of the workers that exited on their own."""
    reasons: list[str] = []
    for exit in exits:
        lines = [line for line in exit.tail.splitlines() if "rror" in line or "refused" in line]
        reason = (lines[-1] if lines else f"exit status {exit.returncode}")[-160:]
        if reason not in reasons:
            reasons.append(reason)
    return _examples(reasons) or "none"


def _recovery(name: str, samples: list[float | None], run_seconds: float) -> Figure:
    ran = sorted(s for s in samples if s is not None)
    never = len(samples) - len(ran)
    if not samples:
        return Figure(f"max recovery, {name}", 0.0, "s", target="< 60 s", note="no kill interrupted one")
    worst = run_seconds if never else ran[-1]
    note = f"{len(samples)} interrupted by kills; median {statistics.median(ran):.1f} s" if ran else ""
    if never:
        note += f"; {never} never ran again within the run"
    return Figure(
        f"max recovery, {name}",
        round(worst, 2),
        "s",
        target="< 60 s",
        met=not never and worst < RECOVERY_TARGET_SECONDS,
        note=note,
    )


def figures_of(outcome: Outcome) -> list[Figure]:
    messages, tasks, size = outcome.messages, outcome.tasks, outcome.size
    run_seconds = outcome.load_seconds + 3600
    loops = [e for e in outcome.unplanned if e.when > outcome.last_fault + CRASH_LOOP_GRACE_SECONDS]
    drain = None if outcome.drained_at is None else max(0.0, outcome.drained_at - outcome.last_fault)
    settings = ", ".join(f"{k}={v}" for k, v in sorted(outcome.settings.items()))
    faults = ", ".join(name for name, _, _ in outcome.faults if name != "kill")
    return [
        Figure(
            "messages lost",
            len(messages.lost),
            "messages",
            target="= 0",
            met=not messages.lost,
            note=f"of {messages.checked:,} recorded over {size.groups} groups in {outcome.load_seconds:.0f} s; "
            f"{messages.quarantined} quarantined (accounted for); {outcome.load.index_unavailable} recordings "
            f"stored while Redis was unreachable, {outcome.load.record_retries} retried; {_examples(messages.lost)}",
        ),
        Figure(
            "messages integrated twice",
            len(messages.doubled) + len(messages.mismatched),
            "messages",
            target="= 0",
            met=not messages.doubled and not messages.mismatched,
            note=_examples(messages.doubled + messages.mismatched),
        ),
        Figure(
            "long tasks not DONE once",
            len(tasks.bad),
            "tasks",
            target="= 0",
            met=not tasks.bad and tasks.done == size.tasks,
            note=f"{tasks.done} of {size.tasks} DONE, each step counted and checkpointed once; "
            f"{tasks.step_reruns} steps ran again after a kill (not committed twice); {_examples(tasks.bad)}",
        ),
        Figure(
            "memory versions that went down",
            len(outcome.versions.regressions),
            "regressions",
            target="= 0",
            met=not outcome.versions.regressions,
            note=f"{outcome.versions.samples} samples of every group's topic and group-memory version "
            f"({outcome.versions.failed_samples} skipped while PostgreSQL was down); {_examples(outcome.versions.regressions)}",
        ),
        Figure(
            "groups not evolved to their last topics",
            len(outcome.lagging),
            "groups",
            target="= 0",
            met=not outcome.lagging,
            note=f"{outcome.load.evolutions_enqueued} evolutions enqueued during the load, one more per group after it",
        ),
        _recovery("topic updates", outcome.recovery.updates, run_seconds),
        _recovery("long tasks", outcome.recovery.tasks, run_seconds),
        _recovery("evolutions", outcome.recovery.evolutions, run_seconds),
        Figure(
            "workers killed",
            outcome.kills,
            "SIGKILLs",
            note=f"{outcome.recovery.kills_with_work} interrupted an update, evolution or task; "
            f"service faults: {faults}",
        ),
        Figure(
            "workers crash-looping",
            len({e.slot for e in loops}) + (3 - outcome.alive),
            "workers",
            target="= 0",
            met=not loops and outcome.alive == 3,
            note=f"{len(outcome.unplanned)} exits not caused by a kill, all during service faults "
            f"(restarted by the run, as a supervisor would): {_exit_reasons(outcome.unplanned)}"
            if not loops
            else _examples([f"slot {e.slot} exit {e.returncode}: {e.tail[-300:]}" for e in loops]),
        ),
        Figure(
            "drain time after the last fault",
            round(drain if drain is not None else run_seconds, 1),
            "s",
            met=drain is not None,
            note=f"all messages integrated and tasks finished; settings: {settings}"
            if drain is not None
            else "the backlog did not drain",
        ),
    ]
