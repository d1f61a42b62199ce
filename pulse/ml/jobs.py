"""What the pulse_train DAG's task does, free of Airflow imports so the CLI and the tests
call the same code."""

from __future__ import annotations

from datetime import date
from typing import Any

from pulse.ml import train as T
from pulse.ml.features import loaded_range
from pulse.ml.registry import Ranges

RANGE_PARAMS = ("train_start", "train_end", "validation_start", "validation_end")


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def wanted(run_type: str) -> str | None:
    """Why a pulse_train run should train, or None to skip it. The DAG runs on three
    occasions: weekly, on demand, and each time the nightly run publishes its marts,
    when it trains only if no model exists yet (the first night with enough history)."""
    from pulse.ml import registry

    if run_type != "asset_triggered":
        return f"{run_type} run"
    if not registry.any_model():
        return "no model exists yet"
    return None


def train_from_params(params: dict[str, Any]) -> dict:
    """Train as the run's params say: `as_of` (default: the last loaded day), either none
    or all four range bounds, and optionally the boosting rounds (`max_iter`). Returns
    the registry row's content."""
    as_of = _day(params.get("as_of"))
    bounds = [_day(params.get(name)) for name in RANGE_PARAMS]
    ranges = None
    if any(bounds):
        if not all(bounds):
            raise ValueError(f"give all of {', '.join(RANGE_PARAMS)} or none; got {bounds}")
        ranges = Ranges(*bounds, data_through=as_of or loaded_range()[1])  # type: ignore[misc]
    seed = T.DEFAULT_SEED if params.get("seed") is None else int(params["seed"])
    # the registry row records the params a model was trained with
    model_params = {"max_iter": int(params["max_iter"])} if params.get("max_iter") else None
    return T.train(as_of=as_of, ranges=ranges, seed=seed, params=model_params)


def tenant_wanted(run_type: str) -> str | None:
    """`wanted` for the tenant model: asset-triggered runs train it only while no tenant
    training is registered (the demo's 90 days label no tenant row yet: each night tries
    again until one is)."""
    from pulse.ml import tenant

    if run_type != "asset_triggered":
        return f"{run_type} run"
    if not tenant.any_training():
        return "no tenant model exists yet"
    return None


def train_tenant_from_params(params: dict[str, Any]) -> dict:
    """Train the tenant churn model as of `as_of` (default: the last loaded day); the
    summary the DAG task returns."""
    from pulse.ml import tenant

    seed = int(params.get("seed") or tenant.DEFAULT_SEED)
    result = tenant.train(as_of=_day(params.get("as_of")), seed=seed)
    evaluation = result["metrics"]["evaluation"] or {}
    return {"model_version": result.get("model_version"), "status": result["status"],
            "reason": result["reason"],
            "roc_auc": {k: v["roc_auc"] for k, v in evaluation.get("scorers", {}).items()}}
