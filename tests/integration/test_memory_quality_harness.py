"""The memory-quality harness keeps working: ``bench/memory_quality.py --quick --json``.

It runs the real pipeline (embedded SQLite and in-process Redis, the real arq worker) over the
tiny samples in ``tests/data/quality``; the figures on real data are in docs/QUALITY.md.
"""

from __future__ import annotations

import json

import pytest

from bench.memory_quality import main

pytestmark = pytest.mark.integration


def test_the_quick_run_reports_the_product_beside_its_baselines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "REDIS_HOST", "POSTGRES_HOST", "LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--quick", "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["date"] and output["machine"]
    topics, context = sorted(output["reports"], key=lambda report: report["kind"], reverse=True)

    assert topics["kind"] == "topics" and topics["messages"] == 25
    scores = topics["scores"]
    assert set(scores) >= {
        "one topic per group",
        "each message alone",
        "5-minute windows",
        "15-minute windows",
    }
    for mode in ("product, slices of 10", "product, whole backlog"):
        # Two clearly addressed conversations per group: the product must tell them apart.
        assert scores[mode]["1-VI"] > scores["one topic per group"]["1-VI"]
        assert scores[mode]["1-1"] > scores["5-minute windows"]["1-1"]
    assert scores["each message alone"]["ARI"] == pytest.approx(0.0)

    assert context["kind"] == "context" and context["questions"] == 7  # the adversarial one is left out
    recall = context["recall"]
    assert set(recall) == {"product", "product, no query", "recent messages", "BM25 over raw messages"}
    assert all(0.0 <= value <= 100.0 for value in recall.values())
    # "When did Tom adopt his dog?" needs the day: only a context that dates its lines has it.
    assert (
        context["recall_by_category"]["product"]["2"]
        > context["recall_by_category"]["BM25 over raw messages"]["2"]
    )
    assert recall["product"] >= recall["BM25 over raw messages"]
