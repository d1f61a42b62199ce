"""`pulse metabase apply`: Pulse's dashboards provisioned through Metabase's REST API.

docs/metabase.md says what the code relies on and what was verified where.
"""
