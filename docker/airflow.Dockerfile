# The image of every Airflow service in docker-compose.yml (api-server, scheduler,
# dag-processor, the one-shot airflow-init). Build context: the repository root; what
# it may send is listed in docker/airflow.Dockerfile.dockerignore.
FROM apache/airflow:3.3.2-python3.11

# Pulse lives at /opt/pulse. pulse.config.REPO_ROOT is the parent of the pulse/ package
# directory, so an editable install from /opt/pulse makes REPO_ROOT=/opt/pulse and the
# compose mounts (dags/, dbt_project/, sql/, data/) sit exactly where the code looks.
# Group 0 may write, as in the base image, so any AIRFLOW_UID (user "UID:0") works.
USER root
RUN mkdir -p /opt/pulse/.pulse /opt/pulse/data /opt/pulse/dags /opt/pulse/dbt_project \
        /opt/pulse/sql \
    && chown -R airflow:0 /opt/pulse \
    && chmod -R g+rwX /opt/pulse
USER airflow
WORKDIR /opt/pulse

# The locked, hashed set first, production only: test and lint tools are in
# requirements-dev.txt (its layer is reused while requirements.txt is unchanged). It pins
# apache-airflow==3.3.2 itself, so nothing the base image holds is up- or downgraded by
# accident. Installs go into the image's venv (/home/airflow/.local, $VIRTUAL_ENV); the
# base image ships uv, pip is the fallback.
COPY --chown=airflow:0 requirements.txt ./
RUN if command -v uv >/dev/null 2>&1; then \
        uv pip install --no-cache --require-hashes -r requirements.txt; \
    else \
        pip install --no-cache-dir --require-hashes -r requirements.txt; \
    fi

# Then Pulse itself, editable and without dependencies (they are all in the locked set).
COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 pulse/ ./pulse/
COPY --chown=airflow:0 generators/ ./generators/
RUN if command -v uv >/dev/null 2>&1; then \
        uv pip install --no-cache --no-deps -e .; \
    else \
        pip install --no-cache-dir --no-deps -e .; \
    fi \
    && python -c "import pulse.config as c; assert str(c.REPO_ROOT) == '/opt/pulse', c.REPO_ROOT"
