"""The ML section of `make bench` (`python -m bench --only ml`): users scored per second
on 100,000 users and the training time, next to the dbt build of the same data.

The data set has fewer users than 100,000 (6,000 on peer): the last day's consenting
snapshot rows are resampled (with replacement, fixed seed) to 100,000 rows, which costs
the model what 100,000 distinct users would.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.warehouse import load_and_build

SCORED_USERS = 100_000
# the seed the models were developed on; any other is "unseen"
DEVELOPMENT_SEED = 42


def ml_quality(ml: dict, tally: dict) -> dict:
    """The validation figures of every scorer the training reports (the model and each
    baseline: any entry with a ROC AUC), with the data set's parameters."""
    train_metrics = ml["train"]
    scorers = {
        name: {k: v for k, v in figures.items() if k != "calibration"}
        for name, figures in train_metrics.items()
        if isinstance(figures, dict) and "roc_auc" in figures
    }
    params = tally.get("params", {})
    return {"data": {k: params.get(k) for k in ("seed", "tenants", "users", "days", "noise")},
            "unseen_seed": params.get("seed") != DEVELOPMENT_SEED,
            "training": train_metrics.get("training"), "scorers": scorers,
            "evaluation": ml.get("evaluation"), "status": ml.get("status"),
            "reason": ml.get("reason"), "tenant": ml.get("tenant")}


def _tenant_model() -> dict:
    """The tenant churn model on the same data: its validation against the baselines,
    the gate's decision, the upgrade propensity's check and the LTV backtest."""
    from pulse.ml import tenant
    from pulse.ml.tenant import NotEnoughHistory

    t = time.perf_counter()
    try:
        trained = tenant.train()
    except NotEnoughHistory as exc:
        print(f"  tenant model: not trained ({exc})", flush=True)
        return {"trained": False, "reason": str(exc)}
    m = trained["metrics"]
    print(f"  tenant model: {time.perf_counter() - t:.1f}s; {m['reason']}", flush=True)
    return {"trained": True, "seconds": time.perf_counter() - t, "status": m["status"],
            "reason": m["reason"], "training": m["training"], "evaluation": m["evaluation"],
            "propensities": m["propensities"], "ltv_backtest": m["ltv_backtest"]}


def bench_ml(landing: Path, tally: dict, reset, dbt) -> dict:
    from pulse.ml import features as F
    from pulse.ml import registry
    from pulse.ml.score import predict, score_day
    from pulse.ml.train import train

    print("\n== ml: training, and scoring 100,000 users, vs the dbt build ==", flush=True)
    last, build = load_and_build(landing, tally, reset, dbt)
    print(f"  dbt build --full-refresh: {build['seconds']:.1f}s", flush=True)

    t = time.perf_counter()
    trained = train()
    train_s = time.perf_counter() - t
    m = trained["metrics"]
    print(f"  training: {train_s:.1f}s ({m['training']['rows']:,} rows; reading snapshots "
          f"{m['seconds']['read']:.1f}s, fitting {m['seconds']['fit']:.1f}s); validation ROC "
          f"AUC {m['model']['roc_auc']:.3f} vs rule-based "
          f"{m['rule_based_health_score']['roc_auc']:.3f}", flush=True)
    v = trained["evaluation"]["validation"]
    print("  vs the baselines (95% CI, users resampled): " + ", ".join(
        f"{k} {s['roc_auc']:.3f} [{s['roc_auc_ci'][0]:.3f}, {s['roc_auc_ci'][1]:.3f}]"
        for k, s in v["scorers"].items()) + f"; {trained['reason']}", flush=True)

    model = registry.load(trained["model_version"])
    frame = F.snapshots([last])
    frame = frame.loc[frame["consent_ml_predictions"]].reset_index(drop=True)
    pick = np.random.default_rng(7).integers(0, len(frame), SCORED_USERS)
    big = frame.iloc[pick].reset_index(drop=True)
    big["user_id"] = [f"{u}~{i}" for i, u in enumerate(big["user_id"])]
    unused = F.adoption([last]).iloc[0:0]  # upgrade only: adoption rows are per real user
    t = time.perf_counter()
    predict(model, big, unused)
    predict_s = time.perf_counter() - t
    t = time.perf_counter()
    nightly = score_day(last, trained["model_version"])
    nightly_s = time.perf_counter() - t
    per_s = SCORED_USERS / predict_s
    print(f"  scoring {SCORED_USERS:,} users (churn, factors, LTV, upgrade): {predict_s:.1f}s "
          f"= {per_s:,.0f} users/s", flush=True)
    print(f"  the night's real scoring ({nightly['users_scored']:,} users: read snapshots, "
          f"predict, write): {nightly_s:.1f}s", flush=True)
    print(f"  ratios to the dbt build: training {train_s / build['seconds']:.2f}, "
          f"scoring 100k {predict_s / build['seconds']:.2f}, nightly scoring "
          f"{nightly_s / build['seconds']:.2f}")
    tenant = _tenant_model()
    return {"tenant": tenant, "evaluation": trained["evaluation"],
            "status": trained["status"], "reason": trained["reason"],
            "dbt_build_s": build["seconds"], "train_s": train_s, "train": m,
            "scored_users": SCORED_USERS, "score_100k_s": predict_s, "users_per_s": per_s,
            "nightly_score_s": nightly_s, "nightly_users": nightly["users_scored"],
            "train_vs_dbt": train_s / build["seconds"],
            "score_100k_vs_dbt": predict_s / build["seconds"]}
