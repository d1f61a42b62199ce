"""docker-compose.yml checked against the code, without Docker or a database.

The compose file is the third way to run Pulse. Nothing here starts a container: these
tests read the file and make sure it can only be wrong in ways Docker itself would tell
you about (an image that fails to pull, a port already taken), not in silent ones (an
environment variable nobody reads, a mount of a folder that does not exist, a dbt run
that talks to some other warehouse).

Over 300 lines on purpose: one static check of docker-compose.yml per concern, all
reading the same parsed file; Docker cannot run here (README "Docker").
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from pulse.config import ENV_VARS, DbParams

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"

AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler",
                    "airflow-dag-processor", "airflow-worker")
# The Citus profile's PostgreSQL servers (docs/scale-out.md): the postgres image's variables.
CITUS_SERVICES = ("citus-coordinator", "citus-worker-1", "citus-worker-2")
# Runs `pulse metabase apply` once Metabase is healthy (the Airflow image, no Airflow).
METABASE_APPLY = "metabase-apply"
EXPECTED_SERVICES = ("postgres", *AIRFLOW_SERVICES, "metabase", METABASE_APPLY)
# Services that run Pulse's code and may therefore carry its PULSE_* variables.
PULSE_SERVICES = (*AIRFLOW_SERVICES, METABASE_APPLY)
# Where the image installs Pulse (docker/airflow.Dockerfile): pulse.config.REPO_ROOT there.
CONTAINER_REPO = "/opt/pulse"

# Variables read not by Pulse or Airflow but by the image a service runs; each prefix is
# allowed on its own service only, and only these names (a typo would be ignored silently).
IMAGE_ENV_VARS: dict[str, tuple[str | tuple[str, ...], frozenset[str]]] = {
    # postgres:15 image's docker-entrypoint.sh (docs: hub.docker.com/_/postgres); Citus'
    # image is built on it.
    "POSTGRES_": (("postgres", *CITUS_SERVICES), frozenset({
        "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "POSTGRES_INITDB_ARGS",
    })),
    # libpq's password variable, for psql in the one-shot that registers Citus' workers.
    "PGPASSWORD": ("citus-setup", frozenset({"PGPASSWORD"})),
    # Metabase (docs: metabase.com/docs/latest/configuring-metabase/environment-variables).
    "MB_": ("metabase", frozenset({
        "MB_DB_TYPE", "MB_DB_HOST", "MB_DB_PORT", "MB_DB_DBNAME", "MB_DB_USER", "MB_DB_PASS",
        "MB_ANON_TRACKING_ENABLED",
    })),
    # docker/postgres-init-roles.sh: the Metabase analyst login's password.
    "METABASE_": ("postgres", frozenset({"METABASE_ANALYST_PASSWORD"})),
    # pulse/airflow_ui.py write-passwords-file, in the api-server's command.
    "AIRFLOW_ADMIN_": ("airflow-apiserver", frozenset({"AIRFLOW_ADMIN_PASSWORD"})),
}
# Which file reads each of the variables above that are not the images' own.
ENV_READERS = {"METABASE_ANALYST_PASSWORD": "docker/postgres-init-roles.sh",
               "AIRFLOW_ADMIN_PASSWORD": "pulse/airflow_ui.py"}


# --- helpers ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert COMPOSE.is_file(), f"{COMPOSE} is missing"
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict), "docker-compose.yml: the top level must be a mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml: no `services:` mapping"
    return data


def _interpolate(value: str) -> str:
    """What compose makes of a value: ${VAR:-default} -> default when VAR is unset; a
    required ${VAR:?message} (a secret from .env) -> a stand-in, from-env-var."""
    value = re.sub(r"(?<!\$)\$\{(\w+):?\?[^}]*\}", lambda m: "from-env-" + m.group(1).lower(),
                   value)
    value = re.sub(r"(?<!\$)\$\{\w+:?-([^}]*)\}", r"\1", value)
    return value.replace("$$", "$")


def service_of(compose: dict[str, Any], name: str) -> dict[str, Any]:
    assert name in compose["services"], f"docker-compose.yml: no service {name!r}"
    return compose["services"][name] or {}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def _split_volume(spec: str | dict[str, Any]) -> tuple[str, str, str]:
    """(type, source, target) of a short `src:dst[:mode]` or long-syntax volume."""
    if isinstance(spec, dict):
        return spec.get("type", "volume"), str(spec.get("source", "")), str(spec["target"])
    parts = spec.split(":")
    if len(parts) == 1:
        return "volume", "", parts[0]  # anonymous volume
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return kind, source, target


def _gitignored_dirs() -> set[str]:
    lines = (REPO / ".gitignore").read_text().splitlines()
    return {ln.strip().strip("/") for ln in lines if ln.strip() and not ln.startswith("#")}


def _strings(node: Any, where: str):
    """Every string in the parsed file (keys too) with its path, e.g. services.x.image."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{where}.{key} (key)", str(key)
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def _dockerfile(compose: dict[str, Any], name: str) -> tuple[Path, Path]:
    build = service_of(compose, name).get("build")
    assert build, f"services.{name}: no `build:` (it must use docker/airflow.Dockerfile)"
    if isinstance(build, str):
        build = {"context": build}
    context = (REPO / build.get("context", ".")).resolve()
    return context, context / build.get("dockerfile", "Dockerfile")


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


_AIRFLOW_CONF = None


def _airflow_options() -> dict[str, set[str]]:
    """Options Airflow declares: its config.yml plus the providers' config (cosmos's)."""
    global _AIRFLOW_CONF
    if _AIRFLOW_CONF is None:
        # tests/conftest.py has set AIRFLOW_HOME and friends before this import.
        from airflow.configuration import conf

        _AIRFLOW_CONF = {
            section: set(body.get("options", {}))
            for section, body in conf.configuration_description.items()
        }
    return _AIRFLOW_CONF


def _options_read_by_cosmos() -> set[tuple[str, str]]:
    """cosmos reads some options (enable_telemetry) without declaring them: take them from
    its settings module's `conf.get*("section", "option"...)` calls, without importing it."""
    spec = importlib.util.find_spec("cosmos")
    assert spec and spec.origin, "astronomer-cosmos is not installed in this environment"
    source = (Path(spec.origin).parent / "settings.py").read_text()
    calls = re.findall(r"conf\.get\w*\(\s*[\"'](\w+)[\"']\s*,\s*[\"'](\w+)[\"']", source)
    return {(section.lower(), option.lower()) for section, option in calls}


def airflow_option_is_real(section: str, option: str) -> bool:
    # Not conf.has_option(): it also answers True for any AIRFLOW__S__O present in this
    # process's environment (conftest sets several), which would make the check circular.
    section, option = section.lower(), option.lower()
    return (option in _airflow_options().get(section, set())
            or (section, option) in _options_read_by_cosmos())


# --- the file and its services ----------------------------------------------------------

def test_compose_parses_and_has_the_expected_services(compose):
    missing = [name for name in EXPECTED_SERVICES if name not in compose["services"]]
    assert not missing, f"docker-compose.yml: services missing: {missing}"


def test_every_service_has_a_healthcheck(compose):
    problems = []
    for name, service in compose["services"].items():
        check = service.get("healthcheck") or {}
        test = check.get("test")
        if check.get("disable") or not test:
            problems.append(f"services.{name}: no healthcheck.test")
        elif isinstance(test, list) and (test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2):
            problems.append(f"services.{name}.healthcheck.test: must be [CMD, ...] or "
                            f"[CMD-SHELL, '...'] with a command, got {test}")
    assert not problems, "\n".join(problems)


def test_airflow_services_wait_for_postgres_and_the_migration(compose):
    problems = []
    for name in AIRFLOW_SERVICES:
        deps = service_of(compose, name).get("depends_on") or {}
        if deps.get("postgres", {}).get("condition") != "service_healthy":
            problems.append(f"services.{name}.depends_on: postgres must be service_healthy")
        if name != "airflow-init" and (deps.get("airflow-init", {}).get("condition")
                                       != "service_completed_successfully"):
            problems.append(f"services.{name}.depends_on: airflow-init must be "
                            "service_completed_successfully")
    assert not problems, "\n".join(problems)


def test_bind_mounts_exist_and_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    ignored = _gitignored_dirs()
    problems = []
    for name, service in compose["services"].items():
        for i, spec in enumerate(service.get("volumes") or []):
            where = f"services.{name}.volumes[{i}] ({spec})"
            kind, source, _target = _split_volume(spec)
            if kind == "volume":
                if source and source not in declared:
                    problems.append(f"{where}: named volume {source!r} is not declared under "
                                    "the top-level `volumes:`")
                continue
            if not source.startswith("./"):
                problems.append(f"{where}: bind mounts must be relative to the repository "
                                "(./...), not absolute or ~")
                continue
            path = REPO / source
            rel = path.resolve().relative_to(REPO.resolve()).as_posix()
            if path.exists():
                continue
            if rel in ignored:  # created at run time (data/), never committed
                continue
            problems.append(f"{where}: {rel} does not exist in the repository (and is not "
                            "a run-time folder listed in .gitignore)")
    assert not problems, "\n".join(problems)


def test_data_dir_is_gitignored():
    assert "data" in _gitignored_dirs(), (
        ".gitignore must list data/: docker-compose.yml mounts ./data (landing files), "
        "which is created at run time and must never be committed")


def test_airflow_services_mount_pulse_where_the_image_installs_it(compose):
    """REPO_ROOT in the image is /opt/pulse, so dags/, sql/, dbt_project/ and data/ must be
    mounted at /opt/pulse/<same name>, and Airflow must look for DAGs there."""
    problems = []
    for name in AIRFLOW_SERVICES:
        service = service_of(compose, name)
        mounts = {}
        for spec in service.get("volumes") or []:
            kind, source, target = _split_volume(spec)
            if kind == "bind":
                mounts[Path(source).as_posix().removeprefix("./").rstrip("/")] = target
        for folder in ("dags", "dbt_project", "sql", "data"):
            want = f"{CONTAINER_REPO}/{folder}"
            if mounts.get(folder) != want:
                problems.append(f"services.{name}.volumes: ./{folder} must be mounted at "
                                f"{want}, got {mounts.get(folder)}")
        env = environment(service)
        for var, want in (("AIRFLOW__CORE__DAGS_FOLDER", f"{CONTAINER_REPO}/dags"),
                          ("PULSE_DATA_DIR", f"{CONTAINER_REPO}/data")):
            if env.get(var) != want:
                problems.append(f"services.{name}.environment.{var}: must be {want}, "
                                f"got {env.get(var)!r}")
    assert not problems, "\n".join(problems)


def test_postgres_init_script_creates_the_airflow_and_metabase_databases(compose):
    service = service_of(compose, "postgres")
    scripts = [
        REPO / source for kind, source, target in map(_split_volume, service.get("volumes", []))
        if kind == "bind" and target.startswith("/docker-entrypoint-initdb.d")
    ]
    assert scripts, ("services.postgres.volumes: no init script mounted into "
                     "/docker-entrypoint-initdb.d")
    created = set()
    for script in scripts:
        assert script.is_file(), f"services.postgres.volumes: {script} does not exist"
        created |= {m.lower() for m in re.findall(r"create\s+database\s+\"?(\w+)",
                                                  script.read_text(), flags=re.IGNORECASE)}
    env = environment(service)
    created.add(env.get("POSTGRES_DB", env.get("POSTGRES_USER", "postgres")))
    needed = {
        "airflow-apiserver.environment.WAREHOUSE_URL": DbParams.from_url(_interpolate(
            environment(service_of(compose, "airflow-apiserver"))["WAREHOUSE_URL"])).dbname,
        "airflow-apiserver.environment.PULSE_AIRFLOW_DB_URL": DbParams.from_url(_interpolate(
            environment(service_of(compose, "airflow-apiserver"))["PULSE_AIRFLOW_DB_URL"])
        ).dbname,
        "metabase.environment.MB_DB_DBNAME": environment(service_of(compose, "metabase"))
        .get("MB_DB_DBNAME", ""),
    }
    missing = {where: db for where, db in needed.items() if db not in created}
    assert not missing, (f"databases used but neither POSTGRES_DB nor created by "
                         f"{[s.name for s in scripts]}: {missing}")


# --- the image --------------------------------------------------------------------------

def test_build_context_and_dockerfile_exist(compose):
    for name in AIRFLOW_SERVICES:
        context, dockerfile = _dockerfile(compose, name)
        assert context.is_dir(), f"services.{name}.build.context: {context} does not exist"
        assert dockerfile.is_file(), f"services.{name}.build.dockerfile: {dockerfile} missing"


def test_dockerfile_matches_the_locked_airflow_and_installs_pulse_at_opt_pulse(compose):
    context, dockerfile = _dockerfile(compose, "airflow-scheduler")
    instructions = _dockerfile_instructions(dockerfile)
    locked = re.search(r"^apache-airflow==(\S+)", (REPO / "requirements.txt").read_text(),
                       flags=re.MULTILINE)
    assert locked, "requirements.txt does not pin apache-airflow=="
    base = [rest for word, rest in instructions if word == "FROM"]
    want = f"apache/airflow:{locked.group(1)}-python3.11"
    assert base and base[0].split()[0] == want, (
        f"{dockerfile.name}: FROM must be {want} (requirements.txt pins "
        f"apache-airflow=={locked.group(1)}), got {base}")
    workdirs = [rest for word, rest in instructions if word == "WORKDIR"]
    assert workdirs and workdirs[-1] == CONTAINER_REPO, (
        f"{dockerfile.name}: the last WORKDIR must be {CONTAINER_REPO}, where Pulse is "
        f"installed editable so that pulse.config.REPO_ROOT={CONTAINER_REPO}; got {workdirs}")
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert re.search(r"install[^;&|]*--no-deps[^;&|]*-e \.", runs), (
        f"{dockerfile.name}: Pulse must be installed with `--no-deps -e .` (editable, so "
        "REPO_ROOT is the source folder, not site-packages)")
    assert re.search(r"install[^;&|]*-r requirements\.txt", runs), (
        f"{dockerfile.name}: the locked requirements.txt must be installed")
    for word, rest in instructions:
        if word != "COPY":
            continue
        args = [a for a in shlex.split(rest) if not a.startswith("--")]
        for source in args[:-1]:
            assert (context / source).exists(), (
                f"{dockerfile.name}: COPY {source}: not found in the build context {context}")


# --- environment variables --------------------------------------------------------------

def test_every_environment_variable_is_read_by_someone(compose):
    problems = []
    for name, service in compose["services"].items():
        for var in environment(service):
            where = f"services.{name}.environment.{var}"
            if var == "WAREHOUSE_URL" or var.startswith("PULSE_"):
                if var not in ENV_VARS:
                    problems.append(f"{where}: Pulse does not read it (not a key of "
                                    "pulse.config.ENV_VARS)")
                if name not in PULSE_SERVICES:
                    problems.append(f"{where}: Pulse's variables belong on the services "
                                    f"that run Pulse only: {PULSE_SERVICES}")
            elif var.startswith("AIRFLOW__"):
                parts = var.split("__")
                if len(parts) != 3 or not all(parts[1:]):
                    problems.append(f"{where}: not of the form AIRFLOW__SECTION__OPTION")
                elif not airflow_option_is_real(parts[1], parts[2]):
                    problems.append(f"{where}: Airflow {_airflow_version()} has no option "
                                    f"[{parts[1].lower()}] {parts[2].lower()}")
                if name not in AIRFLOW_SERVICES:
                    problems.append(f"{where}: Airflow settings belong on the Airflow "
                                    "services only")
            else:
                prefix = next((p for p in IMAGE_ENV_VARS if var.startswith(p)), None)
                if prefix is None:
                    problems.append(f"{where}: nothing reads it (not Pulse's, not an Airflow "
                                    "option, not on the POSTGRES_/MB_ allow-list)")
                    continue
                owner, allowed = IMAGE_ENV_VARS[prefix]
                owners = owner if isinstance(owner, tuple) else (owner,)
                if name not in owners:
                    problems.append(f"{where}: {prefix}* variables belong on {owners} only")
                elif var not in allowed:
                    problems.append(f"{where}: not on the allow-list for {owner} in "
                                    "tests/test_compose.py (a typo? else add it there)")
    assert not problems, "\n".join(problems)


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def test_the_compose_servers_are_initialized_as_the_local_cluster(compose):
    """Same encoding and collation as `pulse warehouse up`'s initdb, so text sorts in the
    same order, on the same fast path, whichever server Pulse runs on."""
    from pulse.cluster import INITDB_LOCALE

    for name in ("postgres", *CITUS_SERVICES):
        args = environment(service_of(compose, name)).get("POSTGRES_INITDB_ARGS", "")
        assert args.split() == list(INITDB_LOCALE), (
            f"services.{name}.environment.POSTGRES_INITDB_ARGS: {args!r}, not "
            f"{' '.join(INITDB_LOCALE)!r} (pulse/cluster.py INITDB_LOCALE)")


def test_airflow_services_reach_the_compose_postgres(compose):
    """The loader and dbt must write to the compose warehouse, not a local cluster."""
    postgres_env = environment(service_of(compose, "postgres"))
    problems = []
    for name in AIRFLOW_SERVICES:
        env = environment(service_of(compose, name))
        for var in ("WAREHOUSE_URL", "PULSE_AIRFLOW_DB_URL",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
            where = f"services.{name}.environment.{var}"
            if var not in env:
                problems.append(f"{where}: missing")
                continue
            try:
                db = DbParams.from_url(_interpolate(env[var]))
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if db.host != "postgres" or db.port != 5432:
                problems.append(f"{where}: must point at the `postgres` service on 5432, "
                                f"got {db.host}:{db.port}")
            if db.user != postgres_env.get("POSTGRES_USER") or (
                    db.password != _interpolate(postgres_env.get("POSTGRES_PASSWORD", ""))):
                problems.append(f"{where}: user/password differ from services.postgres "
                                "POSTGRES_USER/POSTGRES_PASSWORD")
        if "PULSE_AIRFLOW_DB_URL" in env and "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in env:
            a = urlsplit(_interpolate(env["PULSE_AIRFLOW_DB_URL"]))
            b = urlsplit(_interpolate(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
            if (a.netloc, a.path) != (b.netloc, b.path):
                problems.append(f"services.{name}.environment: PULSE_AIRFLOW_DB_URL and "
                                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN name different databases")
        if "WAREHOUSE_URL" in env and "PULSE_AIRFLOW_DB_URL" in env and (
                urlsplit(_interpolate(env["WAREHOUSE_URL"])).path
                == urlsplit(_interpolate(env["PULSE_AIRFLOW_DB_URL"])).path):
            problems.append(f"services.{name}.environment: Airflow's metadata must not live "
                            "in the warehouse database")
    assert not problems, "\n".join(problems)


def test_airflow_services_share_secrets_and_find_the_api_server(compose):
    """Airflow 3: tokens the scheduler signs are checked by the api-server, so the JWT
    secret (and the api secret key, fernet key) must be one value for every container;
    and task processes must reach the api-server's execution API by its service name."""
    envs = {name: environment(service_of(compose, name)) for name in AIRFLOW_SERVICES}
    problems = []
    for var in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__EXECUTOR",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):
        values = {name: env.get(var) for name, env in envs.items()}
        if None in values.values() or len(set(values.values())) != 1:
            problems.append(f"{var}: must be set, to the same value, on every Airflow "
                            f"service; got {values}")
    url = urlsplit(_interpolate(envs["airflow-scheduler"].get(
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "")))
    api_ports = [str(p).rsplit(":", 1)[-1] for p in
                 service_of(compose, "airflow-apiserver").get("ports", [])]
    if url.hostname != "airflow-apiserver" or str(url.port) not in api_ports \
            or not url.path.startswith("/execution"):
        problems.append("AIRFLOW__CORE__EXECUTION_API_SERVER_URL: must be "
                        "http://airflow-apiserver:<its container port>/execution/, got "
                        f"{url.geturl()!r}")
    # LocalExecutor unless the celery profile's AIRFLOW_EXECUTOR says otherwise.
    if _interpolate(envs["airflow-scheduler"].get("AIRFLOW__CORE__EXECUTOR", "")) \
            != "LocalExecutor":
        problems.append("AIRFLOW__CORE__EXECUTOR: must default to LocalExecutor")
    assert not problems, "\n".join(problems)


def test_task_supervisors_run_through_pulse_airflow_main(compose):
    """The services whose supervisors watch task processes (the scheduler's LocalExecutor,
    the Celery workers) run Airflow's CLI through pulse/airflow_main.py, as `pulse
    airflow` does locally, under the apache/airflow image's own entrypoint, which runs a
    `python` command as given after it has waited for the database."""
    problems = []
    for name, args in (("airflow-scheduler", ["scheduler"]),
                       ("airflow-worker", ["celery", "worker"])):
        service = service_of(compose, name)
        command = service.get("command") or []
        if service.get("entrypoint") is not None:
            problems.append(f"services.{name}: keeps the image's entrypoint")
        if command != ["python", "-m", "pulse.airflow_main", *args]:
            problems.append(f"services.{name}: command must be python -m "
                            f"pulse.airflow_main {' '.join(args)}, got {command}")
    assert not problems, "\n".join(problems)


SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN")


def _interpolations(compose: dict[str, Any]):
    """(where, variable, operator, rest) of every compose interpolation in the file."""
    for where, text in _strings(compose, "compose"):
        i = 0
        while (i := text.find("$", i)) != -1:
            rest = text[i + 1:]
            if rest.startswith("$"):
                i += 2
                continue
            if rest.startswith("{"):
                body = rest[1:rest.find("}")] if "}" in rest else rest[1:]
                m = re.fullmatch(r"(\w+)(:?[-?])?(.*)", body, flags=re.DOTALL)
                yield where, m.group(1), m.group(2) or "", m.group(3)
            elif re.match(r"[A-Za-z_]", rest):
                yield where, rest.split()[0], "", ""
            i += 1


def test_secrets_have_no_default_and_everything_else_has_one(compose):
    """A secret (password, key, secret) is ${VAR:?message}: compose refuses to start
    without the .env that `make compose-env` writes, never falls back to a value everyone
    knows. Anything else is ${VAR:-default}, so those need no .env entry."""
    from pulse.compose_env import GENERATED

    problems, required = [], set()
    for where, var, op, _rest in _interpolations(compose):
        if SECRET_NAME.search(var):
            required.add(var)
            if op != ":?":
                problems.append(f"{where}: ${{{var}}} is a secret: write ${{{var}:?run make "
                                "compose-env}, never a default")
            elif var not in GENERATED:
                problems.append(f"{where}: {var} is required but `make compose-env` "
                                "(pulse/compose_env.py GENERATED) does not write it")
        elif op != ":-":
            problems.append(f"{where}: ${{{var}}} has no default; write ${{{var}:-...}}, or "
                            "$$ to escape")
    assert not problems, "\n".join(problems)
    assert required == set(GENERATED), "compose-env writes secrets compose never reads"


def test_compose_env_writes_random_private_secrets_and_keeps_them(tmp_path):
    from pulse.compose_env import GENERATED, write

    env = tmp_path / ".env"
    write(env)
    first = env.read_text()
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    values = dict(line.split("=", 1) for line in first.splitlines() if "=" in line
                  and not line.startswith("#"))
    assert set(GENERATED) <= set(values) and "AIRFLOW_UID" in values
    assert all(len(values[k]) >= 24 for k in GENERATED)
    assert len({values[k] for k in GENERATED}) == len(GENERATED)
    # again: nothing changes (a running stack keeps its passwords)
    write(env)
    assert env.read_text() == first
    # a second checkout gets other values
    other = tmp_path / "other.env"
    write(other)
    assert other.read_text() != first
    assert ".env" in _gitignored_dirs()


def test_images_are_pinned(compose):
    problems = []
    for name, service in compose["services"].items():
        image = _interpolate(str(service.get("image", "")))
        if not image or service.get("build"):
            continue  # built here from a pinned FROM (checked above)
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        if "@sha256:" not in image and (not tag or tag == "latest" or "." not in tag):
            problems.append(f"services.{name}.image: {image} is not pinned to a version "
                            "(name:MAJOR.MINOR... or @sha256:...)")
    assert not problems, "\n".join(problems)


def test_the_admin_password_never_passes_through_a_shell_string(compose):
    for name, service in compose["services"].items():
        for key in ("command", "entrypoint"):
            text = json.dumps(service.get(key) or "")
            assert "AIRFLOW_ADMIN_PASSWORD" not in text, (
                f"services.{name}.{key}: the admin password must reach the container as "
                "an environment variable, never inside a shell command")
    env = environment(service_of(compose, "airflow-apiserver"))
    assert env.get("AIRFLOW_ADMIN_PASSWORD", "").startswith("${AIRFLOW_ADMIN_PASSWORD:?")


def test_variables_on_the_allow_list_are_read_where_it_says(compose):
    for var, reader in ENV_READERS.items():
        assert var in (REPO / reader).read_text(), f"{reader} does not read {var}"
    script = (REPO / "docker/postgres-init-roles.sh").read_text()
    # the password goes in as a psql variable, quoted by psql, not pasted into the SQL
    assert ":'pw'" in script and "$METABASE_ANALYST_PASSWORD'" not in script
    mounted = [target for kind, source, target in
               map(_split_volume, service_of(compose, "postgres").get("volumes", []))
               if source.endswith("postgres-init-roles.sh")]
    assert mounted and mounted[0].startswith("/docker-entrypoint-initdb.d/")


# --- Metabase: the dashboards provisioned once it is healthy ------------------------------

def test_metabase_apply_runs_once_metabase_is_healthy(compose):
    metabase = service_of(compose, "metabase")
    check = json.dumps(metabase.get("healthcheck", {}).get("test"))
    assert "/api/health" in check and "localhost:3000" in check, (
        "services.metabase.healthcheck: must ask Metabase's own /api/health on port 3000")
    apply = service_of(compose, METABASE_APPLY)
    deps = apply.get("depends_on") or {}
    assert deps.get("metabase", {}).get("condition") == "service_healthy", (
        f"services.{METABASE_APPLY}.depends_on: metabase must be service_healthy")
    assert str(apply.get("restart", "no")) == "no", "a one-shot service must not restart"
    command = [*(apply.get("entrypoint") or []), *(apply.get("command") or [])]
    assert command[:3] == ["pulse", "metabase", "apply"] and "--plan" not in command, (
        f"services.{METABASE_APPLY}: must run `pulse metabase apply`, got {command}")
    # the Airflow image, which installs Pulse (and its `pulse` script) at /opt/pulse
    airflow = service_of(compose, "airflow-scheduler")
    assert apply.get("image") == airflow.get("image") and apply.get("build"), (
        f"services.{METABASE_APPLY}: must build and use the Airflow services' image")


def test_metabase_apply_settings_match_the_services_they_name(compose):
    from pulse.metabase.provision import MetabaseSettings

    env = environment(service_of(compose, METABASE_APPLY))
    source = Path(importlib.util.find_spec("pulse.metabase.provision").origin).read_text()
    read = set(re.findall(r'get\("(PULSE_METABASE_\w+)"\)', source))
    assert read and read <= set(env), (
        f"services.{METABASE_APPLY}.environment: {sorted(read - set(env))} missing; "
        f"{MetabaseSettings.__name__}.from_env reads them")
    url = urlsplit(_interpolate(env["PULSE_METABASE_URL"]))
    metabase_ports = [str(p).rsplit(":", 1)[-1]
                      for p in service_of(compose, "metabase").get("ports", [])]
    assert url.hostname == "metabase" and str(url.port) in metabase_ports, (
        f"PULSE_METABASE_URL must reach the metabase service on its container port, got "
        f"{url.geturl()}")
    assert env["PULSE_METABASE_ADMIN_PASSWORD"].startswith("${METABASE_ADMIN_PASSWORD:?")
    from pulse.compose_env import GENERATED

    # Metabase's default complexity rule for the admin it creates on first start
    for _ in range(50):
        pw = GENERATED["METABASE_ADMIN_PASSWORD"]()
        assert re.search(r"\d", pw) and re.search(r"[A-Za-z]", pw) and len(pw) >= 24
    # Metabase reads the warehouse as the analyst login the postgres init script creates,
    # with the password postgres gave it, in the database the pipeline writes.
    wh = DbParams.from_url(_interpolate(env["PULSE_METABASE_WAREHOUSE_URL"]))
    postgres_env = environment(service_of(compose, "postgres"))
    init = (REPO / "docker/postgres-init-roles.sh").read_text()
    created = re.search(r"CREATE ROLE (\w+) LOGIN[^;]* IN ROLE pulse_analyst", init)
    assert created and wh.user == created.group(1), (
        f"PULSE_METABASE_WAREHOUSE_URL: user {wh.user!r} is not the pulse_analyst login "
        "docker/postgres-init-roles.sh creates")
    assert wh.password == _interpolate(postgres_env["METABASE_ANALYST_PASSWORD"])
    assert (wh.host, wh.port, wh.dbname) == ("postgres", 5432, postgres_env["POSTGRES_DB"])


def test_metabase_apply_reads_the_dashboards_folder(compose):
    mounts = {target: source for kind, source, target in
              map(_split_volume, service_of(compose, METABASE_APPLY).get("volumes") or [])
              if kind == "bind"}
    assert mounts.get(f"{CONTAINER_REPO}/dashboards", "").rstrip("/") == "./dashboards", (
        f"services.{METABASE_APPLY}.volumes: ./dashboards must be mounted at "
        f"{CONTAINER_REPO}/dashboards, where pulse.dashboards.spec.load_dashboards reads")
