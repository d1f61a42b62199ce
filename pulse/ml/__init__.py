"""Nightly ML scoring: churn probability, lifetime value and propensities per user.

The features and labels are dbt views (dbt_project/models/marts/ml/); this package only
models: it trains (train.py), keeps a registry of versioned artifacts (registry.py),
scores a day and writes ml.ml_features back (score.py).
"""
