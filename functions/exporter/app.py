"""Exporter: jobs from JobsQueue (exports, mass updates, score resets).

Shell created with the template; the exporter work fills it in.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="exporter")


@logger.inject_lambda_context
def lambda_handler(event, context):
    logger.info("exporter invoked", records=len(event.get("Records", [])))
    return {"batchItemFailures": []}
