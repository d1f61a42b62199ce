"""The quality suites as the repository keeps them: expectations/<suite>.yml.

A suite names its assets (a warehouse table, or a query over one) and its expectations,
each with a GX expectation type, its arguments and a severity. This module only reads
and checks those files and fills in their placeholders; pulse.quality.gate runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import yaml

from pulse.config import REPO_ROOT

SUITES_DIR = REPO_ROOT / "expectations"
SEVERITIES = ("critical", "warning")
# Which suites run where in the nightly DAG, in the order they run.
AFTER_LOAD = ("raw",)
AFTER_DBT = ("star", "marts", "volume")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SuiteError(ValueError):
    """A suite file is malformed; the message says which file and what to fix."""


@dataclass(frozen=True)
class Asset:
    name: str
    table: str  # the warehouse table the asset reads, named in failures
    query: str | None = None  # None: the whole table
    materialize: bool = False  # computed once into quality.profile_<name>, then checked
    key: tuple[str, ...] = ()  # columns that identify an offending row in a failure
    description: str = ""

    @property
    def profile_table(self) -> str:
        return f"profile_{self.name}"


@dataclass(frozen=True)
class Expectation:
    name: str
    asset: str
    type: str  # GX's snake_case name, e.g. expect_column_values_to_be_between
    kwargs: dict[str, Any]
    severity: str
    table: str
    column: str | None
    description: str = ""

    @property
    def gx_class(self) -> str:
        return "".join(part.capitalize() for part in self.type.split("_"))


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    runs: str
    assets: dict[str, Asset]
    expectations: list[Expectation] = field(default_factory=list)
    path: Path | None = None

    def by_asset(self) -> dict[str, list[Expectation]]:
        grouped: dict[str, list[Expectation]] = {name: [] for name in self.assets}
        for exp in self.expectations:
            grouped[exp.asset].append(exp)
        return {name: exps for name, exps in grouped.items() if exps}


def available() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.yml"))


def load(name: str, params: dict[str, Any] | None = None, directory: Path = SUITES_DIR) -> Suite:
    """Read expectations/<name>.yml, with its $placeholders filled from `params`."""
    path = directory / f"{name}.yml"
    if not path.exists():
        raise SuiteError(f"no suite {name!r}: expected {path} (suites: {', '.join(available())})")
    doc = yaml.safe_load(path.read_text())
    if params is not None:
        values = {k: _sql_literal(v) for k, v in params.items()}
        try:
            doc = _fill(doc, values)
        except KeyError as exc:
            raise SuiteError(f"{path}: placeholder ${exc.args[0]} has no value; "
                             f"known: {', '.join(sorted(params))}") from None
    return _parse(doc, path)


def _fill(node: Any, values: dict[str, str]) -> Any:
    """Fill $placeholders in every string of the parsed file (never in its comments)."""
    if isinstance(node, str):
        return Template(node).substitute(values) if "$" in node else node
    if isinstance(node, list):
        return [_fill(n, values) for n in node]
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    return node


def _sql_literal(value: Any) -> str:
    """Placeholders stand for values computed by Pulse (days, batch ids), never user text."""
    if isinstance(value, (list, tuple)):
        return "array[" + ",".join(str(int(v)) for v in value) + "]::bigint[]"
    if hasattr(value, "isoformat"):
        return f"'{value.isoformat()}'"
    return str(value)


def _parse(doc: Any, path: Path) -> Suite:
    def fail(msg: str) -> SuiteError:
        return SuiteError(f"{path}: {msg}")

    if not isinstance(doc, dict) or not _NAME.match(str(doc.get("suite", ""))):
        raise fail("needs a top-level `suite: <name>` (lowercase letters, digits, _)")
    assets: dict[str, Asset] = {}
    for name, spec in (doc.get("assets") or {}).items():
        if not _NAME.match(name) or not isinstance(spec, dict) or "table" not in spec:
            raise fail(f"asset {name!r} needs a snake_case name and a `table`")
        if spec.get("materialize") and not spec.get("query"):
            raise fail(f"asset {name!r}: `materialize` needs a `query`")
        assets[name] = Asset(name, spec["table"], spec.get("query"), bool(spec.get("materialize")),
                             tuple(spec.get("key") or ()), spec.get("description", ""))
    expectations: list[Expectation] = []
    seen: set[str] = set()
    for i, spec in enumerate(doc.get("expectations") or []):
        name = spec.get("name", "")
        where = f"expectation {i + 1} ({name or 'unnamed'})"
        if not _NAME.match(name) or name in seen:
            raise fail(f"{where}: needs a unique snake_case `name`")
        seen.add(name)
        if spec.get("asset") not in assets:
            raise fail(f"{where}: asset {spec.get('asset')!r} is not declared under `assets`")
        if spec.get("severity") not in SEVERITIES:
            raise fail(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        if not str(spec.get("type", "")).startswith(("expect_", "unexpected_rows")):
            raise fail(f"{where}: `type` must be a GX expectation, "
                       "e.g. expect_column_values_to_be_between")
        kwargs = dict(spec.get("kwargs") or {})
        asset = assets[spec["asset"]]
        expectations.append(Expectation(
            name=name, asset=asset.name, type=spec["type"], kwargs=kwargs,
            severity=spec["severity"], table=spec.get("table", asset.table),
            column=spec.get("column", kwargs.get("column")),
            description=" ".join(str(spec.get("description", "")).split()),
        ))
    return Suite(doc["suite"], " ".join(str(doc.get("description", "")).split()),
                 doc.get("runs", ""), assets, expectations, path)
