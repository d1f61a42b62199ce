"""results.json: each bench section's figures under "sections" (with the data set they
were measured on), and the headline figures at the top level under stable keys, with the
machine they were measured on. One section's run replaces its own figures only."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path

# The figures issue readers look for first, at the top level of results.json under names
# that stay put (docs/scale-out.md lists them): each from a path into its section's output.
# A section may also return the key itself, which then wins (its owner knows best).
HEADLINE: dict[str, tuple[str, tuple[str, ...]]] = {
    "loader_vs_copy": ("loader", ("ratio_vs_bare_copy",)),
    "loader_parallel_vs_copy": ("loader", ("ratio_parallel_vs_bare_copy",)),
    "increment_ratio_180_30": ("dbt", ("ratio_increment_long_vs_short",)),
    "empty_build_vs_increment": ("dbt", ("empty_build_vs_increment",)),
    "xl_stage_seconds": ("xl", ("xl_stage_seconds",)),
    "xl_increment_seconds": ("xl", ("xl_increment_seconds",)),
    "xl_peak_rss_mb": ("xl", ("xl_peak_rss_mb",)),
    "card_p95_ms": ("dashboards", ("card_p95_ms",)),
    "webhooks_single_vs_plain": ("webhooks", ("ratio_one_per_request_vs_plain_loop",)),
}


def _derived(name: str, out: dict) -> dict:
    """Headline figures a section's output holds only in parts."""
    if name == "dbt":
        try:
            long = out["increment_long"]
            return {"empty_build_vs_increment": long["noop_build"]["seconds"]
                    / long["increment_build"]["seconds"]}
        except (KeyError, ZeroDivisionError):
            return {}
    if name == "dashboards" and out.get("cards"):
        return {"card_p95_ms": max(c["p95_ms"] for c in out["cards"].values())}
    return {}


def merge_results(previous: dict, name: str, out: dict, **about: object) -> dict:
    """results.json after one section ran: that section replaced (with the data set it ran
    on), every other section's last figures kept, the headline keys recomputed from all."""
    sections = dict(previous.get("sections", {}))
    sections[name] = {**about, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                            time.gmtime()), **out}
    merged: dict = {"machine": machine(), "sections": sections}
    # the models' validation figures per data set (bench/ml.py), kept across runs
    if "ml_quality" in previous:
        merged["ml_quality"] = previous["ml_quality"]
    for key, (section, path) in HEADLINE.items():
        found = sections.get(section)
        if found is None:
            if key in previous:
                merged[key] = previous[key]
            continue
        value = found.get(key, _derived(section, found).get(key))
        if value is None:
            node = found
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            value = node
        if value is not None:
            merged[key] = round(value, 3) if isinstance(value, float) else value
    return merged


def machine() -> dict:
    """Where the figures were measured: they mean little without it."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    with contextlib.suppress(ValueError, OSError):
        ram_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"cores": os.cpu_count(), "ram_gb": ram_gb, "cpu": model or platform.processor(),
            "python": platform.python_version()}
