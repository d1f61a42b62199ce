"""The event contract, read from the Avro schemas in generators/contracts/.

The schemas are the one written statement of what an event is. The loader checks each
line against a fast validator compiled from them (top-level fields and record-typed
fields; map values are left to the generator's full fastavro test), so a change to the
contract changes what the loader accepts without a second copy of the rules. From the
same rules comes a msgspec type (`fast_decoder`) that parses a line and checks those
types in one pass, for the lines that pass; it only ever accepts, never says why not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, reduce
from operator import or_
from pathlib import Path
from typing import Annotated, Any

import msgspec

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


def _emit_checks(rules: tuple[FieldRule, ...], obj: str, prefix: str, depth: int,
                 out: list[str], indent: str) -> None:
    """Append the source lines that check `rules` against the dict named `obj`."""
    get = f"get{depth}"
    out.append(f"{indent}{get} = {obj}.get")
    for rule in rules:
        var = f"v{depth}"
        path = prefix + rule.name
        # Exact type checks: JSON decoding never yields subclasses, and bool must not pass
        # for a number the way isinstance(True, int) would let it.
        allowed = tuple(dict.fromkeys(rule.types))
        test = (f"type({var}) is not {allowed[0].__name__}" if len(allowed) == 1
                else f"type({var}) not in ({', '.join(t.__name__ for t in allowed)},)")
        wrong = (f"raise Invalid('wrong_type', 'field {path} must be {rule.type_label}, got '"
                 f" + type({var}).__name__)")
        out.append(f"{indent}{var} = {get}({rule.name!r})")
        # The type test first: a value of the right type (nearly every line) then costs
        # one test; which reason a wrong value gets is decided only once it is wrong.
        out.append(f"{indent}if {test}:")
        if rule.required:
            out.append(f"{indent}    if {var} is None:")
            out.append(f"{indent}        raise Invalid('missing_field', "
                       f"'required field {path} is missing')")
            out.append(f"{indent}    {wrong}")
        else:
            out.append(f"{indent}    if {var} is not None:")
            out.append(f"{indent}        {wrong}")
        if rule.nested:
            body = indent if rule.required else indent + "    "
            if not rule.required:
                out.append(f"{indent}if {var} is not None:")
            _emit_checks(rule.nested, var, path + ".", depth + 1, out, body)


def compile_checker(rules: tuple[FieldRule, ...]) -> Callable[[dict[str, Any]], None]:
    """A function that checks a dict against `rules`, raising Invalid.

    Generated from the rules, because a loop interpreting them for every line cost more
    than parsing the line's JSON.
    """
    lines = ["def check(obj):"]
    _emit_checks(rules, "obj", "", 0, lines, "    ")
    namespace: dict[str, Any] = {"Invalid": Invalid}
    exec("\n".join(lines), namespace)  # the source is built above from the rules
    return namespace["check"]


@cache
def checker_for(version_major: int) -> Callable[[dict[str, Any]], None]:
    """A function that checks an event dict against one version of the contract."""
    return compile_checker(rules_for(version_major))


# event_version -> (major, checker) for versions already resolved: the lines of a night
# share a few versions, so most lines skip the parsing of theirs.
_BY_VERSION: dict[str, tuple[int, Callable[[dict[str, Any]], None]]] = {}


def validate_event(obj: Any) -> int:
    """Raise Invalid unless obj is a valid event; return its major schema version."""
    if obj.__class__ is dict:
        version = obj.get("event_version")
        known = _BY_VERSION.get(version) if version.__class__ is str else None
        if known is not None:
            known[1](obj)
            return known[0]
    if not isinstance(obj, dict):
        raise Invalid("not_an_object", f"a line must hold a JSON object, got {type(obj).__name__}")
    version = obj.get("event_version")
    if not isinstance(version, str):
        # Report it through the generic rules so the reason matches the other fields.
        checker_for(1)(obj)
        raise Invalid("wrong_type", "field event_version must be string")  # pragma: no cover
    head = version.split(".", 1)[0]
    major = int(head) if head.isdigit() else -1
    if major not in known_versions():
        raise Invalid(
            "unknown_version",
            f"event_version {version!r} has no contract (known: "
            f"{', '.join(f'{v}.x' for v in known_versions())})",
        )
    check = checker_for(major)
    if len(_BY_VERSION) < 1024:  # bounded: a stream of made-up versions must not grow it
        _BY_VERSION[version] = (major, check)
    check(obj)
    return major


def major_if_known(version: str) -> int | None:
    """The major version of an event_version `validate_event` has accepted before."""
    known = _BY_VERSION.get(version)
    return known[0] if known is not None else None


# orjson, which parses the lines the checkers judge, reads an integer beyond
# [-2**63, 2**64 - 1] as a float, which an int rule refuses: the one-pass decoder takes
# int64s only (its bounds cannot reach 2**64 - 1), and leaves any other to the checkers.
_ORJSON_INT = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_MSGSPEC_TYPE: dict[type, Any] = {str: str, bool: bool, int: _ORJSON_INT, float: float,
                                  dict: dict, list: list}


def _msgspec_type(rule: FieldRule, name: str) -> Any:
    """The msgspec type that accepts exactly the values `rule` accepts, or KeyError."""
    if rule.nested:
        if rule.types != (dict,):
            raise KeyError(rule.name)
        return _struct(rule.nested, name + "_" + rule.name)
    # a msgspec float takes an int too, as the checkers' (int, float) does
    kinds = [_MSGSPEC_TYPE[t] for t in rule.types if t is not int or float not in rule.types]
    return reduce(or_, kinds)


def _struct(rules: tuple[FieldRule, ...], name: str) -> type:
    fields = []
    for rule in rules:
        kind = _msgspec_type(rule, name)
        fields.append((rule.name, kind) if rule.required else (rule.name, kind | None, None))
    return msgspec.defstruct(name, fields, kw_only=True)


@cache
def fast_decoder() -> Callable[[bytes], Any] | None:
    """A decoder from a line's bytes to a struct of every known version's fields, each
    typed as its rule says; or None when the versions' rules cannot share one struct.

    A line it decodes is one `validate_event` accepts, with the same values, provided its
    version is one `validate_event` knows (`major_if_known`) and it holds no \\u0000
    (which `lines.parse` refuses): every field of every version has one rule (so a field
    of another version is checked more strictly, never less), a required field is in
    every version, and the types are the checkers' exact ones (a bool is not a number;
    an integer beyond int64 it refuses, since orjson may read it as a float). A line it
    refuses proves nothing: the checkers then judge it and say why
    (`lines._event_fields`).
    """
    versions = known_versions()
    merged: dict[str, FieldRule] = {}
    for version in versions:
        for rule in rules_for(version):
            if merged.setdefault(rule.name, rule) != rule:
                return None
    for rule in merged.values():
        if rule.required and any(rule not in rules_for(v) for v in versions):
            return None
    try:
        event = _struct(tuple(merged.values()), "Event")
    except (KeyError, TypeError):
        return None
    return msgspec.json.Decoder(event).decode
