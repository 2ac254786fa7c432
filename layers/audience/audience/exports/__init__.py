"""Exports of a segment's members to files other tools open (csv, xlsx, parquet, jsonl, ad-platform
customer lists), written streaming into the export bucket by the exporter function.

``request`` (no pyarrow) is what the API imports; ``writers`` and ``export`` run in the exporter.
"""
