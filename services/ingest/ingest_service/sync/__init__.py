"""Continuous sync of path sources (SPEC §12): watchers and schedules on the ingest host.

``leases`` makes one ingest replica the owner of each synced source (a key in a NATS KV
bucket, renewed while it lives); ``watcher`` follows one source's folder with
``watchfiles``; ``coordinator`` keeps the owned sources watched and their schedules
run; ``freshness`` exports how long a change took to become searchable.
"""
