"""Webhook delivery: each tenant's endpoints receive signed batches of events.

outbox.py fills the outbox from dbt's announcements after the nightly run; deliver.py
sends what is due (signed the Standard Webhooks way, retried on Svix's schedule);
endpoints.py manages subscriptions; cli.py is `pulse webhooks ...`.
"""
