"""What a suite run found, and how it reads: one line per expectation, with the
observed value, a few offending rows and the threshold in words."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pulse.quality.suites import Asset, Expectation, Suite

SAMPLE = 5  # offending rows quoted in a failure message


@dataclass
class CheckResult:
    expectation: Expectation
    success: bool
    observed: str
    observed_number: float | None
    threshold: str
    details: dict[str, Any]

    def line(self) -> str:
        e = self.expectation
        where = e.table + (f".{e.column}" if e.column and "," not in e.column else
                           f" ({e.column})" if e.column else "")
        mark = "ok" if self.success else "FAILED"
        return (f"[{e.severity}] {mark}: {e.name} on {where}: observed {self.observed}; "
                f"expected {self.threshold}")


@dataclass
class SuiteResult:
    suite: Suite
    run_id: str
    day: date
    scope: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None = None
    results: list[CheckResult] = field(default_factory=list)
    data_docs: str | None = None
    validation_ids: list[Any] = field(default_factory=list)  # GX's, for the Data Docs

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.expectation.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.expectation.severity == "warning"]

    @property
    def success(self) -> bool:
        return not self.critical_failures

    def summary(self) -> str:
        return (f"suite {self.suite.name}: {len(self.results)} expectations, "
                f"{len(self.critical_failures)} critical failure(s), "
                f"{len(self.warnings)} warning(s)")


def check_result(exp: Expectation, er, asset: Asset) -> CheckResult:
    res = dict(er.result or {})
    message = _exception_message(er.exception_info or {})
    if message is not None:
        return CheckResult(exp, False, f"error: {message}", None, threshold_text(exp),
                           {"exception": message})
    for key in ("unexpected_list", "unexpected_index_list", "unexpected_index_query"):
        res.pop(key, None)
    if isinstance(res.get("details"), dict) and "unexpected_rows" in res["details"]:
        res["details"] = {**res["details"],
                          "unexpected_rows": res["details"]["unexpected_rows"][:20]}
    details = json.loads(json.dumps(res, default=str))
    if "observed_value" in res:
        observed = res["observed_value"]
        number = _number(observed)
        text = _fmt(observed)
        rows = (res.get("details") or {}).get("unexpected_rows") or []
        if exp.type == "unexpected_rows_expectation":
            text = f"{observed} unexpected row(s)"
            if rows:
                text += ", e.g. " + "; ".join(_row(r) for r in rows[:SAMPLE])
        return CheckResult(exp, bool(er.success), text, number, threshold_text(exp), details)
    unexpected = res.get("unexpected_count") or 0
    total = res.get("element_count") or 0
    text = f"{unexpected} of {total} rows unexpected"
    samples = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
    if unexpected and samples:
        text += ", e.g. " + "; ".join(_row(s) if isinstance(s, dict) else _fmt(s)
                                      for s in samples[:SAMPLE])
    numeric = [v for v in (_number(x) for x in res.get("partial_unexpected_list") or [])
               if v is not None]
    # The chartable figure: the worst offending value when there is one, else the count.
    number = (max(numeric, key=abs) if numeric else float(unexpected))
    return CheckResult(exp, bool(er.success), text, number, threshold_text(exp), details)


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX reports an error either flat or per metric; either way, its first line."""
    candidates = [info] + [v for v in info.values() if isinstance(v, dict)]
    for item in candidates:
        if item.get("raised_exception"):
            text = str(item.get("exception_message") or "unknown error").strip()
            return text.splitlines()[0][:300]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _row(row: Any) -> str:
    if isinstance(row, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in row.items())
    return _fmt(row)


def threshold_text(exp: Expectation) -> str:
    k = exp.kwargs
    t = exp.type
    if t == "unexpected_rows_expectation":
        text = "no unexpected rows"
    elif "min_value" in k or "max_value" in k:
        lo, hi = k.get("min_value"), k.get("max_value")
        subject = k.get("column", "value")
        if lo is not None and hi is not None:
            text = f"{lo} <= {subject} <= {hi}"
        elif hi is not None:
            text = f"{subject} <= {hi}"
        else:
            text = f"{subject} >= {lo}"
    elif "value_set" in k:
        values = ", ".join(map(str, k["value_set"][:10]))
        text = f"{k.get('column')} in {{{values}}}"
    elif t == "expect_column_pair_values_a_to_be_greater_than_b":
        op = ">=" if k.get("or_equal") else ">"
        text = f"{k['column_A']} {op} {k['column_B']}"
    elif t == "expect_column_values_to_not_be_null":
        text = f"{k['column']} not null"
    elif "unique" in t:
        text = f"{', '.join(k.get('column_list') or [k.get('column')])} unique"
    else:
        text = json.dumps(k, default=str)
    if k.get("mostly") is not None:
        text += f" for at least {k['mostly']:.1%} of rows"
    return text.replace("'", "")
