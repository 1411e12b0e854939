import numpy as np
import pandas as pd
import pytest

from pipeline import candidates, settings
from pipeline.candidates import CandidateSpecError, build_estimator, resolve_params
from pipeline.schema import FEATURE_COLUMNS


def training_rows(rows=400, seed=0):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        rng.standard_normal((rows, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS
    )
    y = (rng.uniform(size=rows) < 0.1).astype(int)
    x.loc[y == 1, "V3"] -= 3
    return x, y


@pytest.mark.parametrize("name", settings.fraud().candidates)
def test_configured_candidate_fits_and_predicts(name):
    spec = settings.candidate_spec(name)
    x, y = training_rows()
    params = resolve_params(
        spec["estimator"], spec["params"], (int((y == 0).sum()), int(y.sum()))
    )
    model = build_estimator(name, spec["estimator"], params, seed=1)
    model.fit(x, y)
    probability = model.predict_proba(x)[:, 1]

    assert probability.shape == (len(x),)
    assert probability[y == 1].mean() > probability[y == 0].mean()


def test_unknown_estimator_lists_choices():
    with pytest.raises(
        CandidateSpecError,
        match=r"estimator 'svm' is unknown; choose one of logistic_regression",
    ):
        build_estimator("mine", "svm", {}, seed=1)


def test_misspelt_param_names_section():
    with pytest.raises(
        CandidateSpecError, match=r"\[candidate.forest\] params .* do not fit estimator"
    ):
        build_estimator("forest", "random_forest", {"n_trees": 5}, seed=1)


def test_balanced_scale_pos_weight_from_counts():
    params = resolve_params("xgboost", {"scale_pos_weight": "balanced"}, (990, 10))

    assert params["scale_pos_weight"] == 99.0


def test_smote_neighbours_capped_by_frauds():
    params = resolve_params(
        "smote_logistic_regression", {"smote_k_neighbors": 5}, (100, 3)
    )

    assert params["smote_k_neighbors"] == 2


def test_smote_strategy_raised_to_window_ratio():
    params = resolve_params(
        "smote_logistic_regression", {"smote_sampling_strategy": 0.1}, (100, 20)
    )

    assert params["smote_sampling_strategy"] == 0.21


def test_smote_needs_two_frauds():
    with pytest.raises(CandidateSpecError, match="SMOTE needs at least 2 fraud rows"):
        resolve_params("smote_logistic_regression", {}, (100, 1))


@pytest.mark.parametrize(
    "estimator", ["logistic_regression", "smote_logistic_regression"]
)
def test_scaler_sees_training_rows_only(estimator):
    """Fitting on training rows leaves the validation rows out of the scaler's statistics."""
    x_train, y_train = training_rows(seed=1)
    x_validation = x_train + 50.0
    spec = settings.candidate_spec(estimator)
    params = resolve_params(
        estimator, spec["params"], (int((y_train == 0).sum()), int(y_train.sum()))
    )
    model = build_estimator("check", estimator, params, seed=1)
    model.fit(x_train, y_train)
    model.predict_proba(x_validation)

    np.testing.assert_allclose(
        model.named_steps["scale"].mean_, x_train.mean().to_numpy()
    )


def test_smote_resamples_training_rows_only():
    x_train, y_train = training_rows(seed=2)
    model = build_estimator(
        "check",
        "smote_logistic_regression",
        {"smote_sampling_strategy": 0.5, "smote_k_neighbors": 3, "max_iter": 500},
        seed=1,
    )
    model.fit(x_train, y_train)
    resampled_x, resampled_y = model.named_steps["smote"].fit_resample(
        model.named_steps["scale"].transform(x_train), y_train
    )

    assert resampled_y.sum() == int(0.5 * (y_train == 0).sum())
    assert len(resampled_x) > len(x_train)
    assert model.named_steps["model"].n_features_in_ == len(FEATURE_COLUMNS)


def test_spec_digest_changes_with_settings():
    spec = {"estimator": "xgboost", "params": {"max_depth": 3}}

    assert candidates.spec_digest(spec, {"window_days": 4}) != candidates.spec_digest(
        spec, {"window_days": 5}
    )
    assert candidates.spec_digest(spec, {"window_days": 4}) == candidates.spec_digest(
        dict(spec), {"window_days": 4}
    )
