"""Evaluator: EventBridge schedule, direct `{"tenant_id", "segment_ids"}` calls and EvaluateQueue messages.

Shell created with the template; the evaluator work (issue: scheduled evaluation) fills it in.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="evaluator")


@logger.inject_lambda_context
def lambda_handler(event, context):
    logger.info("evaluator invoked", source=event.get("source"), records=len(event.get("Records", [])))
    return {"runs": []} if "Records" not in event else {"batchItemFailures": []}
