"""Bulk changes to every member contact of a segment, run as jobs by the exporter function:
mass update (``{"set": {field: value}}``) and score reset (audited).

Both act on the segment's current membership as stored — for a dynamic segment, the members its
last evaluation computed, which is exactly what the caller sees in ``GET /segments/{id}/members``.
``request`` (no pyarrow, no AWS) is what the API imports to validate bodies.
"""
