"""`make demo`: the whole path, quietly, from nothing to scores and verified webhooks.

The console gets one line per stage and per Airflow task; everything else (Airflow, dbt,
Great Expectations, PostgreSQL's tools) goes to the log file named on the first line.

The sequence (docs/demo.md says why it is this one):
  warehouse -> demo data, with Airflow's metadata database migrating beside it
  -> history through D-1 (every day loaded, and the models training reads built: the part
     of a night that training needs) -> pulse_train (the first model, and the gate's verdict)
  -> the demo's webhook receiver on 127.0.0.1 and an endpoint for one tenant
  -> nightly run for D (loads D, builds and tests every model, scores every user with the
     model the gate lets serve, rebuilds the marts that read the scores, queues webhooks)
  -> pulse_delivery -> what was built.
Run twice, it leaves the same warehouse: when a model current on D exists, the history
and the training are skipped (there is nothing new to load, and training again would
register another model), the endpoint is found rather than added, and every other step is
idempotent.

Over 300 lines on purpose: the sequence above is one story, read top to bottom in `Demo`;
the quiet console and the log it writes are the only parts that stand alone (`Console`).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import TextIO

from pulse import cluster, summary, warehouse
from pulse.config import settings
from pulse.dag_constants import NIGHTLY_DAG_ID
from pulse.dagtest import STREAM_ENV, DagRunResult, run_dag_test, strip_ansi

DEMO_RECEIVER_PORT = 47801  # the first demo's; later ones reuse the registered URL's port
RUN_SECONDS_GOAL = 240
# What pulse_train reads (pulse/ml/features.py, pulse/ml/tenant.py), with every parent.
TRAINING_READS = ("+ml_user_feature_snapshots", "+ml_user_consent_periods",
                  "+ml_feature_adoption_snapshots", "+ml_tenant_feature_snapshots")
TAIL_SHOWN = 8


class DemoFailed(RuntimeError):
    """A stage failed; the message says which and where the full log is."""


@dataclass
class Console:
    """The terminal (a copy of stdout taken before it was sent to the log) and the log."""

    out: TextIO
    log: TextIO
    stage_no: int = 0
    stages: int = 0
    _open: bool = False

    def line(self, text: str) -> None:
        self._close_open()
        self.out.write(text + "\n")
        self.out.flush()
        self.log.write(f"[demo] {text}\n")
        self.log.flush()

    def begin(self, title: str) -> float:
        """A stage whose result ends the same line."""
        self._close_open()
        self.stage_no += 1
        self.out.write(f"[{self.stage_no}/{self.stages}] {title}")
        self.out.flush()
        self.log.write(f"\n[demo] ===== [{self.stage_no}/{self.stages}] {title}\n")
        self.log.flush()
        self._open = True
        return time.monotonic()

    def end(self, started: float, result: str = "") -> None:
        text = f"{': ' + result if result else ''}  ({time.monotonic() - started:.1f}s)"
        self.out.write(text + "\n")
        self.out.flush()
        self.log.write(f"[demo] {text.strip()}\n")
        self.log.flush()
        self._open = False

    def header(self, title: str) -> float:
        """A stage whose task lines follow."""
        self._close_open()
        self.stage_no += 1
        self.line(f"[{self.stage_no}/{self.stages}] {title}")
        return time.monotonic()

    def _close_open(self) -> None:
        if self._open:
            self.out.write("\n")
            self._open = False


@contextlib.contextmanager
def quiet(log_path: Path) -> Iterator[Console]:
    """Send file descriptors 1 and 2 to the log (so subprocesses and libraries that print
    end there too) and hand out the terminal as a Console."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    # O_APPEND: the Console and whatever writes to fd 1/2 never overwrite each other.
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield Console(out, log)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        root.removeHandler(handler)
        root.setLevel(old_level)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        log.close()
        out.close()


def last_landing_day(tally: dict) -> date:
    params = tally["params"]
    start = date.fromisoformat(params["start"])
    return date.fromordinal(start.toordinal() + int(params["days"]) - 1)


def demo_tenant(landing: Path, day: date) -> str:
    """The tenant the demo's endpoint subscribes for: the active one with the most seats in
    the day's billing export (ties by id), so the same data always picks the same one."""
    path = landing / "accounts" / f"dt={day.isoformat()}" / "accounts.ndjson.gz"
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for text in fh:
            with contextlib.suppress(ValueError):
                rows.append(json.loads(text))
    active = [r for r in rows if isinstance(r, dict) and r.get("status") == "active"]
    if not active:
        raise DemoFailed(f"no active tenant in {path}: regenerate the demo data")
    return min(active, key=lambda r: (-int(r.get("seats") or 0), str(r["tenant_id"])))[
        "tenant_id"]


def _run_logged(cmd: list[str], log: TextIO, *, env: dict[str, str],
                cwd: Path | None = None) -> int:
    log.write(f"\n===== $ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.run(cmd, env={**env, **STREAM_ENV}, cwd=cwd, text=True,
                          errors="replace", stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    log.write(strip_ansi(proc.stdout))
    log.flush()
    return proc.returncode


def _tail(lines: list[str]) -> list[str]:
    return [f"        | {line[:160]}" for line in lines[-TAIL_SHOWN:] if line.strip()]


class Demo:
    def __init__(self, con: Console, log_path: Path, seed: int, size: str, dirty: float,
                 overrides: dict[str, int]) -> None:
        self.con = con
        self.log_path = log_path
        self.seed, self.size, self.dirty = seed, size, dirty
        self.overrides = overrides  # tenants, users, days given instead of the size's
        self.s = settings()

    # --- helpers -------------------------------------------------------------------------
    def fail(self, what: str, tail: list[str] | None = None) -> DemoFailed:
        self.con.line(f"FAILED: {what}. Full log: {self.log_path}")
        for line in _tail(tail or []):
            self.con.line(line)
        return DemoFailed(what)

    def dag(self, dag_id: str, day: date, env: dict[str, str] | None = None) -> DagRunResult:
        result = run_dag_test(dag_id, day.isoformat(), self.con.log, self.con.line, env=env)
        if not result.ok:
            where = result.failed_task or "the run"
            raise self.fail(f"{dag_id} for {day}: task {where} did not succeed "
                            f"(exit {result.returncode})", result.failed_tail)
        return result

    def demo_data(self) -> dict:
        from generators import generate, size_params

        con, s = self.con, self.s
        params = {**size_params(self.size), **self.overrides}
        t = con.begin(f"Demo data ({self.size}: {params['tenants']} tenants, "
                      f"{params['users']:,} users, {params['days']} days, seed {self.seed})")
        tally = generate(s.landing_dir, seed=self.seed, dirty=self.dirty, progress=False,
                         **params)
        from pulse.loader import changed_since_loaded

        changed = changed_since_loaded(s.landing_dir)
        if changed:
            # The loader would refuse them (raw is append-only) and the night would fail.
            raise self.fail(
                f"this warehouse holds another demo's data: {len(changed)} landing files it "
                "loaded now have other bytes (a demo of another size, seed or length); start "
                "from nothing with `make clean` (deletes .pulse/ and data/), or give this "
                "demo its own PULSE_HOME and PULSE_DATA_DIR")
        con.end(t, f"{tally['valid_lines']:,} valid lines, "
                   f"{sum(tally['faults'].values()):,} faulty, {tally['duplicates']:,} resent, "
                   f"{tally['late']:,} late, in {s.landing_dir}")
        return tally

    def history(self, through: date) -> tuple[int, int]:
        """Load every day through `through` and build what training reads, with its parents
        (models and seeds, no tests): the part of a night that training needs. The full
        nightly run (stage 7) then builds and tests everything (docs/demo.md)."""
        from pulse.orchestration import (
            BUILDS_TARGET,
            dbt_binary,
            dbt_env,
            dbt_target_path,
            load_landing,
        )

        load_landing(through)
        cmd = [dbt_binary(), "--no-use-colors", "build", "--select", *TRAINING_READS,
               "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test",
               "--target-path", dbt_target_path(BUILDS_TARGET),
               # dbt's output goes to the demo's log; its own debug log file would repeat it
               "--log-level-file", "none"]
        if _run_logged(cmd, self.con.log, env={**os.environ, **dbt_env()},
                       cwd=self.s.dbt_project_dir) != 0:
            raise self.fail(f"dbt build of what training reads failed ({' '.join(cmd[1:4])} "
                            "...)")
        results = json.loads((self.s.dbt_project_dir / dbt_target_path(BUILDS_TARGET) /
                              "run_results.json").read_text())["results"]
        with warehouse.transaction() as conn, conn.cursor() as cur:
            cur.execute("select count(*) from raw.events")
            loaded = int(cur.fetchone()[0])
        return loaded, sum(1 for r in results if r["unique_id"].startswith("model."))

    # --- stages --------------------------------------------------------------------------
    def run(self) -> int:
        from generators import size_params

        con, s = self.con, self.s
        started = time.monotonic()
        load_before = os.getloadavg()
        con.stages = 9
        con.line(f"Pulse demo: full log (Airflow, dbt, Great Expectations) in {self.log_path}")

        t = con.begin("Warehouse")
        cluster.up(s, log=lambda m: con.log.write(m + "\n"))
        con.end(t, cluster.status(s))

        # Airflow's metadata database migrates beside the data generation (both take
        # seconds of one core each); its output joins the log when it is done.
        from pulse.airflow_env import airflow_bin, airflow_env

        s.airflow_home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as migrate_out:
            migrating = subprocess.Popen([airflow_bin(), "db", "migrate"],
                                         env={**airflow_env(), **STREAM_ENV}, text=True,
                                         stdout=migrate_out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            migrate_started = time.monotonic()
            try:
                tally = self.demo_data()
                con.begin("Airflow's metadata database (airflow db migrate, beside the data)")
                returncode = migrating.wait()
            finally:
                if migrating.poll() is None:
                    migrating.kill()
                    migrating.wait()
            migrate_out.seek(0)
            con.log.write(f"\n===== $ {airflow_bin()} db migrate\n"
                          + strip_ansi(migrate_out.read()))
        if returncode != 0:
            raise self.fail("airflow db migrate failed")
        con.end(migrate_started, "ready")
        params = {**size_params(self.size), **self.overrides}

        from pulse import migrate
        from pulse.ml import registry
        from pulse.ml.train import days_needed

        migrate.apply(log=lambda m: con.log.write(m + "\n"))
        day = last_landing_day(tally)
        before = day - timedelta(days=1)
        needed = days_needed()
        model = registry.current_on(day)

        if model is not None:
            con.begin(f"History through {before}")
            con.end(time.monotonic(), "skipped: a previous demo loaded it and trained "
                                      f"({model} serves on {day})")
            con.begin("Training (pulse_train)")
            con.end(time.monotonic(), f"skipped: {model} is current on {day}")
        elif params["days"] - 1 < needed:
            con.begin(f"History through {before}")
            con.end(time.monotonic(), "skipped: too little data to train before day "
                                      f"{day} (see the next line)")
            con.begin("Training (pulse_train)")
            con.end(time.monotonic(), f"skipped: training needs {needed} loaded days, the "
                                      f"demo data has {params['days']}; no scores tonight")
        else:
            t = con.begin(f"History through {before} ({params['days'] - 1} days): loaded, and "
                          "the models training reads built")
            loaded, built = self.history(before)
            con.end(t, f"{loaded:,} events; {built} models built by dbt (night {day} "
                       "builds and tests every model)")
            con.header(f"Training with `airflow dags test pulse_train` (needs {needed} "
                       "loaded days)")
            result = self.dag("pulse_train", before)
            if result.state_of("train_model") != "success":
                raise self.fail("pulse_train did not train (the reason is on the line above)")
            model = registry.current_on(day)
            con.line(f"      {_verdict()}")

        t = con.begin("Webhook receiver on 127.0.0.1 (verifies with standardwebhooks)")
        from pulse.webhooks.demo_receiver import (
            DemoReceiver,
            register_demo_endpoint,
            registered_port,
        )

        receiver = DemoReceiver([], registered_port(DEMO_RECEIVER_PORT)).start()
        try:
            hook_env = {"PULSE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
                        "PULSE_WEBHOOK_ALLOW_HTTP": "1",
                        "PULSE_WEBHOOK_ALLOWED_PORTS": str(receiver.port)}
            tenant = demo_tenant(s.landing_dir, day)
            endpoint_id, secrets, created = register_demo_endpoint(
                tenant, receiver.url, _demo_webhook_settings(receiver.port))
            receiver.set_secrets(secrets)
            con.end(t, f"{receiver.url}, endpoint {endpoint_id} for tenant {tenant} "
                       f"({'registered' if created else 'found, not added again'})")

            con.header(f"Nightly run for {day} (loads {day}, scores every user"
                       f"{' with ' + model if model else ''}, queues the webhooks)")
            result = self.dag(NIGHTLY_DAG_ID, day)
            if model and result.state_of("score_users") != "success":
                raise self.fail(f"score_users did not score {day}")

            con.header("Webhook delivery with `airflow dags test pulse_delivery`")
            self.dag("pulse_delivery", day, env=hook_env)
        finally:
            receiver.stop()
        tally_rx = receiver.tally
        delivered = _delivered(endpoint_id)
        if tally_rx.rejected:
            raise self.fail(f"{tally_rx.rejected} webhook request(s) failed signature "
                            f"verification: {tally_rx.last_error}")
        if tally_rx.verified_events:
            con.line(f"      {tally_rx.verified_events} deliveries verified (signature checked "
                     f"with standardwebhooks, {tally_rx.verified_requests} requests); "
                     f"{delivered} delivered to {endpoint_id} in all")
        else:
            con.line(f"      0 new deliveries: the {delivered} messages for {endpoint_id} "
                     "were delivered and verified by an earlier run")

        con.header("What was built")
        report = summary.collect()
        for text in report.render(per_table=False).splitlines()[3:]:
            con.line(text)
        scored = report.rows.get("ml.ml_features") or 0
        con.line(f"Scores: {scored:,} rows in ml.ml_features"
                 + (f" (model {model})" if model else ""))
        self._what_next()
        (s.home / "last_demo.json").write_text(json.dumps(
            {"seed": self.seed, "size": self.size, "dirty": self.dirty, "days": params["days"],
             "day": day.isoformat(), "model_version": model, "endpoint_id": endpoint_id,
             "deliveries_verified": tally_rx.verified_events, "log": str(self.log_path)},
            indent=2))
        elapsed = time.monotonic() - started
        load_after = os.getloadavg()
        goal = "" if elapsed <= RUN_SECONDS_GOAL else f" (over the {RUN_SECONDS_GOAL}s goal)"
        con.line(f"Demo done in {elapsed:.0f}s{goal}; load average {load_before[0]:.1f} at "
                 f"the start, {load_after[0]:.1f} at the end, {os.cpu_count()} CPUs")
        return 0

    def _what_next(self) -> None:
        con, s = self.con, self.s
        wh = s.warehouse()
        con.line("")
        con.line("Where to look next:")
        report = _report_path(con.log)
        if report:
            con.line(f"  Report:      {report}")
        con.line("  Summary:     .venv/bin/pulse summary   (every table, and why an empty "
                 "one is empty)")
        con.line("  dbt docs:    make docs   then open http://127.0.0.1:8081")
        con.line("  Metabase:    docker compose up   then open http://127.0.0.1:3000")
        con.line(f"  SQL:         .venv/bin/pulse warehouse psql   (127.0.0.1:{wh.port}/"
                 f"{wh.dbname}), e.g. select * from marts.tenant_health_scores;")
        con.line("  Airflow UI:  make airflow-ui   then open http://127.0.0.1:8080")
        con.line(f"  Full log:    {self.log_path}")


def _demo_webhook_settings(port: int):
    """The delivery rules, opened for the loopback receiver only (the demo's
    PULSE_WEBHOOK_* values): plain http, 127.0.0.0/8, and its one port."""
    from pulse.webhooks.settings import webhook_settings

    return replace(webhook_settings(), allow_http=True,
                   allow_networks=(ip_network("127.0.0.0/8"),),
                   allowed_ports=((port, port),))


def _verdict() -> str:
    """The promotion gate's verdict on the model just trained (docs/evaluation.md)."""
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("select model_version, status, status_reason from ml.model_registry "
                    "where model_kind = 'user_churn' and status <> 'baseline' "
                    "order by trained_at desc limit 1")
        row = cur.fetchone()
    if row is None:
        return "no model trained"
    version, status, reason = row
    if status == "promoted":
        return f"{version} promoted: it scores tonight"
    return (f"{version} {(reason or status).rstrip('.')}; the calibrated rule score "
            "(rule-baseline) serves until a model passes")


def _delivered(endpoint_id: str) -> int:
    with warehouse.transaction() as conn, conn.cursor() as cur:
        cur.execute("select count(*) from delivery.outbox where endpoint_id = %s "
                    "and status = 'SUCCESS'", (endpoint_id,))
        return int(cur.fetchone()[0])


def _report_path(log: TextIO) -> str | None:
    """The static report (`pulse report`), rebuilt now that the scores are in."""
    from pulse.dashboards.report import build_report

    try:
        return str(build_report())
    except Exception:
        traceback.print_exc(file=log)
        return "not built: the error is in the full log"


def run_demo(seed: int = 42, size: str = "demo", dirty: float = 0.01,
             tenants: int | None = None, users: int | None = None,
             days: int | None = None) -> int:
    overrides = {k: v for k, v in (("tenants", tenants), ("users", users), ("days", days))
                 if v is not None}
    s = settings()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = s.home / "logs" / f"demo-{stamp}.log"
    with quiet(log_path) as con:
        try:
            return Demo(con, log_path, seed, size, dirty, overrides).run()
        except DemoFailed:
            return 1
        except Exception as exc:  # one line on the console, the traceback in the log
            traceback.print_exc(file=con.log)
            stage = f"stage {con.stage_no}/{con.stages}" if con.stage_no else "the start"
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            con.line(f"FAILED at {stage}: {first.rstrip('.:')}. Full log: {log_path}")
            return 1
