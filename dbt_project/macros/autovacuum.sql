{#-
  An incremental model's night writes rows and then, in the same transaction, changes the
  table's catalog row (grants, row-level security) and takes the lock of COMMENT ON and
  ALTER TABLE. An autovacuum of the table that starts in between waits for that
  transaction at its end (to update the table's row in pg_class) while the transaction
  waits for the autovacuum's lock: a deadlock, and PostgreSQL aborts the model (seen on
  peer: ml_user_feature_snapshots' COMMENT ON against an autovacuum of it,
  docs/incremental.md). Taking the autovacuum's lock (SHARE UPDATE EXCLUSIVE) first,
  before anything is written, makes the night wait for a running autovacuum instead,
  which PostgreSQL cancels because it blocks a lock request, and keeps a new one from
  starting until the commit. Readers (ACCESS SHARE) and writers (ROW EXCLUSIVE) do not
  wait for it. Nothing on a first build or a full refresh: the table is new.
-#}
{% macro hold_off_autovacuum() %}
    {%- if is_incremental() -%}
        lock table {{ this }} in share update exclusive mode
    {%- endif -%}
{% endmacro %}
