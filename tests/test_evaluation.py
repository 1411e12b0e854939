import math

import numpy as np
import pytest

from pipeline.evaluation import METRIC_NAMES, evaluate, tune_threshold


def test_metrics_at_threshold():
    y_true = np.array([0, 0, 0, 1, 1])
    y_score = np.array([0.1, 0.2, 0.7, 0.8, 0.4])
    amount = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    metrics = evaluate(y_true, y_score, amount, threshold=0.5)

    assert set(metrics) == set(METRIC_NAMES)
    assert metrics["true_positives"] == 1
    assert metrics["false_positives"] == 1
    assert metrics["false_negatives"] == 1
    assert metrics["true_negatives"] == 2
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(0.5)
    assert metrics["amount_caught"] == pytest.approx(40.0)
    assert metrics["amount_missed"] == pytest.approx(50.0)
    assert metrics["roc_auc"] == pytest.approx(5 / 6)


def test_single_class_gives_nan_ranking_metrics():
    metrics = evaluate([0, 0, 0], [0.1, 0.5, 0.9], [1, 1, 1], threshold=0.5)

    assert math.isnan(metrics["average_precision"])
    assert math.isnan(metrics["roc_auc"])
    assert metrics["false_positives"] == 2


def test_tuned_threshold_maximises_f1():
    y_true = np.array([0, 0, 0, 0, 1, 1, 1])
    y_score = np.array([0.1, 0.2, 0.3, 0.65, 0.6, 0.7, 0.9])
    threshold = tune_threshold(y_true, y_score)

    assert threshold == pytest.approx(0.6)
    assert evaluate(y_true, y_score, np.ones(7), threshold)["recall"] == 1.0


def test_threshold_without_fraud_rows_is_neutral():
    assert tune_threshold(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4])) == 0.5
