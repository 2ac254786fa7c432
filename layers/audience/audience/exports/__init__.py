"""Exports of a segment's members to files other tools open (csv, xlsx, parquet, jsonl, ad-platform
customer lists), and the job machinery the exporter function shares with bulk updates.

- ``request``: what a caller may ask (validated, no pyarrow: the API imports it);
- ``writers``: one streaming writer per format; ``cells``: text rendering and formula neutralising;
- ``sink``: an S3 multipart upload as a write-only stream;
- ``export``: the use case (paged members -> filters -> writer -> sink); ``activity``: events for
  suppression rules that need them;
- ``jobs``: queueing, claiming (idempotent redelivery), progress; ``runner``: runs one queued job of
  any kind; ``submit``: what the API routes call; ``clients``: boto3 clients from settings.

See docs/exports.md.
"""
