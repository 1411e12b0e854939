"""Daily retraining, evaluation and promotion of a card fraud model with Luigi and MLflow."""
