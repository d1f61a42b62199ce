#!/bin/sh
# Runs once, when the compose postgres volume is first initialised (after
# 10-pulse-databases.sql), as POSTGRES_USER. Creates metabase_analyst, the login Metabase
# reads the warehouse with, as a member of pulse_analyst (docs/roles.md); Pulse's
# migration 0007 gives pulse_analyst its grants. The password comes from the environment
# through a psql variable (:'pw'), so it never becomes part of a shell or SQL string.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v pw="$METABASE_ANALYST_PASSWORD" <<'SQL'
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pulse_analyst') THEN
        CREATE ROLE pulse_analyst NOLOGIN;
    END IF;
END $$;
CREATE ROLE metabase_analyst LOGIN PASSWORD :'pw' IN ROLE pulse_analyst;
SQL
