"""The event contract, read from the Avro schemas in generators/contracts/.

The schemas are the one written statement of what an event is. The loader checks each
line against a fast validator compiled from them (top-level fields and record-typed
fields; map values are left to the generator's full fastavro test), so a change to the
contract changes what the loader accepts without a second copy of the rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "generators" / "contracts"

_AVRO_TO_PY: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    # bool is an int subclass in Python; a JSON true is not a number.
    "int": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "map": (dict,),
    "record": (dict,),
    "array": (list,),
}


class Invalid(Exception):
    """A line that breaks the contract: reason_code is stable, detail is for people."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.detail = detail


@dataclass(frozen=True)
class FieldRule:
    name: str
    required: bool
    types: tuple[type, ...]
    nested: tuple[FieldRule, ...] = ()
    type_label: str = ""


def _compile_type(avro_type: Any) -> tuple[bool, tuple[type, ...], tuple[FieldRule, ...], str]:
    """(nullable, python types, nested record rules, label) for one Avro field type."""
    branches = avro_type if isinstance(avro_type, list) else [avro_type]
    nullable = "null" in branches
    types: list[type] = []
    nested: tuple[FieldRule, ...] = ()
    labels: list[str] = []
    for branch in branches:
        if branch == "null":
            continue
        name = branch["type"] if isinstance(branch, dict) else branch
        labels.append(name)
        types.extend(_AVRO_TO_PY[name])
        if name == "record":
            nested = _compile_fields(branch["fields"])
    return nullable, tuple(dict.fromkeys(types)), nested, " or ".join(labels)


def _compile_fields(fields: list[dict[str, Any]]) -> tuple[FieldRule, ...]:
    rules = []
    for f in fields:
        nullable, types, nested, label = _compile_type(f["type"])
        rules.append(FieldRule(f["name"], not nullable, types, nested, label))
    return tuple(rules)


@cache
def load_schema(version_major: int) -> dict[str, Any]:
    path = CONTRACTS_DIR / f"event_v{version_major}.avsc"
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def rules_for(version_major: int) -> tuple[FieldRule, ...]:
    return _compile_fields(load_schema(version_major)["fields"])


@cache
def known_versions() -> tuple[int, ...]:
    paths = CONTRACTS_DIR.glob("event_v*.avsc")
    return tuple(sorted(int(p.stem.rsplit("_v", 1)[1]) for p in paths))


def _check(obj: dict[str, Any], rules: tuple[FieldRule, ...], prefix: str) -> None:
    for rule in rules:
        value = obj.get(rule.name)
        if value is None:
            if rule.required:
                raise Invalid("missing_field", f"required field {prefix}{rule.name} is missing")
            continue
        # bool passes isinstance(int): only accept it where the contract says boolean.
        if not isinstance(value, rule.types) or (
            isinstance(value, bool) and bool not in rule.types
        ):
            raise Invalid(
                "wrong_type",
                f"field {prefix}{rule.name} must be {rule.type_label}, "
                f"got {type(value).__name__}",
            )
        if rule.nested:
            _check(value, rule.nested, f"{prefix}{rule.name}.")


def validate_event(obj: Any) -> int:
    """Raise Invalid unless obj is a valid event; return its major schema version."""
    if not isinstance(obj, dict):
        raise Invalid("not_an_object", f"a line must hold a JSON object, got {type(obj).__name__}")
    version = obj.get("event_version")
    if not isinstance(version, str):
        # Report it through the generic rules so the reason matches the other fields.
        _check(obj, rules_for(1), "")
        raise Invalid("wrong_type", "field event_version must be string")  # pragma: no cover
    head = version.split(".", 1)[0]
    major = int(head) if head.isdigit() else -1
    if major not in known_versions():
        raise Invalid(
            "unknown_version",
            f"event_version {version!r} has no contract (known: "
            f"{', '.join(f'{v}.x' for v in known_versions())})",
        )
    _check(obj, rules_for(major), "")
    return major
