"""Point-in-time check: a feature of day T must not change when data after T arrives.

Build the warehouse with the landing files through T, take the snapshot of T; build it
with everything, take the snapshot of T again: every feature column must be equal, row
for row. A feature computed from after T (a leak) differs. tests/test_ml_scoring.py runs
this on a real warehouse, with a planted leak that it must catch; any model with
point-in-time features (the user and the tenant snapshots) can use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pulse.ml.features import KEYS


def point_in_time_violations(before: pd.DataFrame, after: pd.DataFrame,
                             columns: Sequence[str]) -> dict[str, int]:
    """Feature -> how many users' values differ between the snapshot of T built from data
    through T (`before`) and the one built later (`after`). Users missing on either side
    count as violations of every column (a user known at T must stay, none may appear)."""
    merged = before.merge(after, on=list(KEYS), how="outer", suffixes=("_t", "_later"),
                          indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    out: dict[str, int] = {}
    for col in columns:
        a = pd.to_numeric(merged[f"{col}_t"], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(merged[f"{col}_later"], errors="coerce").to_numpy(dtype=float)
        same = np.isclose(a, b, rtol=0, atol=1e-9) | (np.isnan(a) & np.isnan(b))
        differing = int((~same).sum()) if unmatched == 0 else unmatched
        if differing:
            out[col] = differing
    return out
