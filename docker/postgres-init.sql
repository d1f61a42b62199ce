-- Runs once, when the compose postgres volume is first initialised, as POSTGRES_USER
-- (pulse), which therefore owns the new databases. POSTGRES_DB already created `pulse`,
-- the warehouse. To re-run it: `docker compose down -v` (this deletes all the data).

-- Airflow's metadata database (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, PULSE_AIRFLOW_DB_URL).
CREATE DATABASE pulse_airflow;

-- Metabase's application database (MB_DB_DBNAME): its questions, dashboards and users.
CREATE DATABASE metabase;
