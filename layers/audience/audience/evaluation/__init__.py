"""Scheduled and on-demand evaluation of dynamic segments over Parquet snapshots.

Modules: ``placement`` (categories and suppression, pure; also used by the real-time path),
``snapshots`` (incremental Parquet snapshots of a tenant's contacts), ``engine`` (the one pass),
``state`` (last run's membership in S3), ``changes`` (what a run writes per segment), ``run`` (one
tenant's run, the schedule), ``shards`` (a run split by snapshot file), ``fanout`` (shards over
EvaluateQueue), ``requests`` (queueing an on-demand run; no pyarrow), ``preview`` (counts and samples
for unsaved rules, a field's distinct values), ``bulk_segments`` (one segment per value). Nothing here is imported by
the package itself, so importing ``audience.evaluation.placement`` does not load pyarrow.
"""
