import math

import pytest

from pipeline.promotion import best_candidate
from pipeline.registry import decide


@pytest.mark.parametrize(
    ("challenger", "production", "margin", "decision"),
    [
        (0.50, None, 0.01, "promoted"),
        (0.80, 0.70, 0.01, "promoted"),
        (0.705, 0.70, 0.01, "rejected"),
        (0.71, 0.70, 0.01, "rejected"),
        (0.60, 0.70, 0.00, "rejected"),
        (float("nan"), 0.70, 0.01, "skipped"),
    ],
)
def test_gate_decision(challenger, production, margin, decision):
    outcome = decide(challenger, production, margin)

    assert outcome.decision == decision
    assert outcome.production_average_precision == production


def test_gate_reason_names_both_scores():
    reason = decide(0.6, 0.7, 0.01).reason

    assert "0.6000" in reason
    assert "0.7000" in reason


def test_best_candidate_ignores_undefined_scores():
    results = {
        "a": {"metrics": {"average_precision": 0.4}},
        "b": {"metrics": {"average_precision": math.nan}},
        "c": {"metrics": {"average_precision": 0.6}},
    }

    assert best_candidate(results) == "c"
    assert best_candidate({"b": results["b"]}) is None
