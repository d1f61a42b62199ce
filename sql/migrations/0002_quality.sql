-- The quality gate's records (pulse/quality, suites in expectations/). One row per
-- expectation per run, kept for good: analysts chart them, the on-call engineer queries
-- them. A re-run of the same Airflow run replaces its own rows, nothing else.

create schema if not exists quality;

-- One row per suite per run: the verdict and where its Data Docs are.
create table quality.gate_runs (
    run_id            text        not null,   -- Airflow's run_id, or cli__<day>
    suite             text        not null,
    data_day          date        not null,   -- the night's landing day
    started_at        timestamptz not null,
    finished_at       timestamptz not null,
    success           boolean     not null,   -- false only when a critical expectation failed
    expectations      integer     not null,
    critical_failures integer     not null,
    warnings          integer     not null,
    scope             jsonb       not null,   -- what was checked (batches, day, ...)
    data_docs         text,                   -- path of the run's Data Docs page
    primary key (run_id, suite)
);

-- One row per expectation per run.
create table quality.check_results (
    run_id          text        not null,
    suite           text        not null,
    expectation     text        not null,   -- the name given in expectations/<suite>.yml
    data_day        date        not null,
    checked_at      timestamptz not null,
    expectation_type text       not null,   -- GX's, e.g. expect_column_values_to_be_between
    severity        text        not null check (severity in ('critical', 'warning')),
    success         boolean     not null,
    table_name      text        not null,   -- the warehouse table the expectation speaks of
    column_name     text,
    observed_value  text,                   -- as a person reads it
    observed_number double precision,       -- the same, as a number, for charts
    threshold       text        not null,
    details         jsonb       not null,   -- GX's result: counts, samples, offending keys
    primary key (run_id, suite, expectation),
    foreign key (run_id, suite) references quality.gate_runs on delete cascade
);
create index check_results_day on quality.check_results (data_day, suite);

-- The quarantine report of each load the raw suite checked: rejected lines by batch,
-- reason and tenant ('(unreadable)' when the line had no readable tenant).
create table quality.quarantine_report (
    run_id          text    not null,
    data_day        date    not null,
    batch_id        bigint  not null,
    file_path       text    not null,
    reason_code     text    not null,
    tenant_id       text    not null,
    rejected_lines  integer not null,
    primary key (run_id, batch_id, reason_code, tenant_id)
);
