"""Model artifacts on disk and their rows in ml.model_registry.

An artifact is the pickled PulseModel (joblib) under settings().models_dir (git-ignored);
its version is derived from the training day and the sha256 of its bytes, so training
twice on the same data with the same seed gives the same version, and a reload is
checked against the hash before it scores anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import joblib

from pulse import warehouse
from pulse.config import settings
from pulse.ml.model import PulseModel


class RegistryError(RuntimeError):
    """A model version is unknown, or its artifact is missing or was changed."""


@dataclass(frozen=True)
class Ranges:
    train_start: date
    train_end: date
    validation_start: date
    validation_end: date
    data_through: date

    def as_dict(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in self.__dict__.items()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_artifact(model: object, data_through: date,
                  prefix: str = "churn") -> tuple[str, Path, str]:
    """Write the artifact; returns (version, path, sha256). `prefix` names the model
    kind in the version (`churn` for users, `tenant` for tenants)."""
    folder = settings().models_dir
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(model, tmp)
        sha = _sha256(Path(tmp))
        version = f"{prefix}-{data_through:%Y%m%d}-{sha[:12]}"
        path = folder / f"{version}.joblib"
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return version, path, sha


def register(version: str, path: Path, sha: str, ranges: Ranges, params: dict,
             features: list[str], metrics: dict) -> None:
    """Insert (or, for the same version trained again, refresh) the registry row, and
    make the newest model by data_through current, in one transaction."""
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """
                insert into ml.model_registry (
                    model_version, trained_at, data_through, train_start, train_end,
                    validation_start, validation_end, params, features, metrics,
                    artifact_path, artifact_sha256)
                values (%s, now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (model_version) do update set
                    trained_at = excluded.trained_at, metrics = excluded.metrics,
                    params = excluded.params, artifact_path = excluded.artifact_path
                """,
                (version, ranges.data_through, ranges.train_start, ranges.train_end,
                 ranges.validation_start, ranges.validation_end, json.dumps(params),
                 json.dumps(features), json.dumps(metrics), str(path), sha),
            )
            cur.execute("update ml.model_registry set is_current = false where is_current")
            cur.execute(
                """update ml.model_registry set is_current = true
                   where model_version = (select model_version from ml.model_registry
                                          order by data_through desc, trained_at desc
                                          limit 1)""")
    finally:
        conn.close()


def _one(sql: str, params: tuple = ()):
    conn = warehouse.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()
    finally:
        conn.close()


def any_model() -> bool:
    return _one("select exists (select 1 from ml.model_registry)")[0]


def current_on(day: date) -> str | None:
    """The version a night scoring `day` used: the newest model (by the data it knew,
    then by training time) trained with data through `day` or earlier."""
    row = _one(
        """select model_version from ml.model_registry where data_through <= %s
           order by data_through desc, trained_at desc limit 1""", (day,))
    return row[0] if row else None


def first_data_through() -> date | None:
    return _one("select min(data_through) from ml.model_registry")[0]


def info(version: str) -> dict:
    row = _one(
        """select model_version, trained_at, data_through, train_start, train_end,
                  validation_start, validation_end, params, features, metrics,
                  artifact_path, artifact_sha256, is_current
           from ml.model_registry where model_version = %s""", (version,))
    if row is None:
        raise RegistryError(
            f"model version {version!r} is not in ml.model_registry: list the versions with "
            "`pulse ml report`, or train one with `pulse ml train`")
    keys = ("model_version", "trained_at", "data_through", "train_start", "train_end",
            "validation_start", "validation_end", "params", "features", "metrics",
            "artifact_path", "artifact_sha256", "is_current")
    return dict(zip(keys, row, strict=True))


def load(version: str) -> PulseModel:
    """The artifact of `version`, after checking its bytes against the registry."""
    row = info(version)
    return load_artifact(version, Path(row["artifact_path"]), row["artifact_sha256"],
                         row["data_through"])


def load_artifact(version: str, path: Path, expected_sha: str, data_through: date):
    """An artifact's object, after checking its bytes against the recorded sha256."""
    if not path.exists():
        raise RegistryError(
            f"the artifact of {version} is missing ({path}); retrain with `pulse ml train "
            f"--as-of {data_through}` (same data and seed give the same version)")
    sha = _sha256(path)
    if sha != expected_sha:
        raise RegistryError(
            f"{path} does not match the sha256 recorded for {version} (found {sha[:12]}, "
            f"expected {expected_sha[:12]}): it was changed or replaced; retrain "
            "it rather than scoring with an unknown model")
    return joblib.load(path)
