"""Scheduled and on-demand evaluation of dynamic segments over Parquet snapshots.

Modules: ``placement`` (categories and suppression, pure; also used by the real-time path),
``snapshots`` (incremental Parquet snapshots of a tenant's contacts), ``state`` (last run's
membership in S3), ``run`` (one tenant's run), ``shards`` (a run split by snapshot file),
``preview`` (counts and samples for unsaved rules, bulk segment values). Nothing here is imported by
the package itself, so importing ``audience.evaluation.placement`` does not load pyarrow.
"""
