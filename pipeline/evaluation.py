"""Metrics and figures for a model's fraud probabilities on labelled rows."""

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

METRIC_NAMES = (
    "average_precision",
    "roc_auc",
    "precision",
    "recall",
    "f1",
    "mcc",
    "threshold",
    "true_positives",
    "false_positives",
    "true_negatives",
    "false_negatives",
    "amount_caught",
    "amount_missed",
)


def tune_threshold(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Return the probability threshold with the highest F1 on these rows.

    Without a fraud row F1 is undefined everywhere, so the neutral 0.5 is returned.
    """
    if not np.any(np.asarray(y_true) == 1):
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y_true, y_score)
    # The last precision/recall pair has no threshold: it is the "flag nothing" end.
    f1 = (
        2
        * precision[:-1]
        * recall[:-1]
        / np.clip(precision[:-1] + recall[:-1], 1e-12, None)
    )
    return float(thresholds[int(np.argmax(f1))])


def evaluate(y_true, y_score, amount, threshold: float) -> dict[str, float]:
    """Compute every metric of METRIC_NAMES.

    ``y_true`` contains 0/1 labels, ``y_score`` fraud probabilities and ``amount`` the
    transaction amounts, all of one length. Ranking metrics are NaN when only one class
    is present, since they are undefined there.
    """
    y_true = np.asarray(y_true).astype(int)
    y_score = np.asarray(y_score, dtype=float)
    amount = np.asarray(amount, dtype=float)
    flagged = (y_score >= threshold).astype(int)
    both_classes = np.unique(y_true).size == 2

    tn, fp, fn, tp = confusion_matrix(y_true, flagged, labels=[0, 1]).ravel()
    return {
        "average_precision": float(average_precision_score(y_true, y_score))
        if both_classes
        else float("nan"),
        "roc_auc": float(roc_auc_score(y_true, y_score))
        if both_classes
        else float("nan"),
        "precision": float(precision_score(y_true, flagged, zero_division=0)),
        "recall": float(recall_score(y_true, flagged, zero_division=0)),
        "f1": float(f1_score(y_true, flagged, zero_division=0)),
        "mcc": float(matthews_corrcoef(y_true, flagged)),
        "threshold": float(threshold),
        "true_positives": int(tp),
        "false_positives": int(fp),
        "true_negatives": int(tn),
        "false_negatives": int(fn),
        "amount_caught": float(amount[(y_true == 1) & (flagged == 1)].sum()),
        "amount_missed": float(amount[(y_true == 1) & (flagged == 0)].sum()),
    }


def pr_curve_figure(y_true, y_score, title: str):
    """Precision-recall curve with its average precision in the legend."""
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    ap = average_precision_score(y_true, y_score)
    figure = Figure(figsize=(5, 4))
    axes = figure.subplots()
    axes.step(recall, precision, where="post", label=f"AP = {ap:.3f}")
    axes.set_xlabel("Recall")
    axes.set_ylabel("Precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_title(title)
    axes.legend(loc="lower left")
    figure.tight_layout()
    return figure


def confusion_figure(metrics: dict, title: str):
    """Confusion matrix at the tuned threshold, as counts."""
    counts = np.array(
        [
            [metrics["true_negatives"], metrics["false_positives"]],
            [metrics["false_negatives"], metrics["true_positives"]],
        ]
    )
    figure = Figure(figsize=(4, 4))
    axes = figure.subplots()
    axes.imshow(counts, cmap="Blues")
    for (row, column), value in np.ndenumerate(counts):
        colour = "white" if value > counts.max() / 2 else "black"
        axes.text(column, row, f"{value:,}", ha="center", va="center", color=colour)
    axes.set_xticks([0, 1], ["legit", "fraud"])
    axes.set_yticks([0, 1], ["legit", "fraud"])
    axes.set_xlabel("Predicted")
    axes.set_ylabel("Actual")
    axes.set_title(f"{title}\nthreshold {metrics['threshold']:.3f}")
    figure.tight_layout()
    return figure
