"""One moto world per module (tables emptied between tests), one fresh tenant per test, and the
real API handler (``api_call``)."""

from tests.integration.api.conftest import api_call  # noqa: F401 - the shared API fixture
from tests.integration.evaluation.conftest import aws, aws_module, s3, tenant  # noqa: F401
