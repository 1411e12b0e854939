"""Dash app that shows the pipeline's MLflow runs, registry history and batch health."""
