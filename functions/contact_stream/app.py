"""Contact stream: DynamoDB stream records of ContactsTable -> real-time membership.

Shell created with the template (the stream is declared there); the real-time membership work fills it.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="contact_stream")


@logger.inject_lambda_context
def lambda_handler(event, context):
    logger.info("contact stream batch", records=len(event.get("Records", [])))
    return {"batchItemFailures": []}
