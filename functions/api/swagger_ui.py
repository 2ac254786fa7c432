"""``GET /docs``: Swagger UI over the finished document ``/openapi.json`` serves (error responses,
links), where Powertools' own ``enable_swagger`` page would embed its raw generated document."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import aws_lambda_powertools.event_handler.openapi.swagger_ui as swagger_ui_package
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

_ASSETS = Path(swagger_ui_package.__file__).parent


@cache
def _assets() -> tuple[str, str]:
    """Powertools' bundled Swagger UI script and style, read once per container."""
    return (
        (_ASSETS / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (_ASSETS / "swagger-ui.min.css").read_text(encoding="utf-8"),
    )


def swagger_page(document_json: str, *, as_json: bool = False) -> Response:
    """The UI page with ``document_json`` embedded (``?format=json``: the document itself)."""
    spec = document_json.replace("</", "<\\/")  # no "</script>" can end the embedding early
    if as_json:
        return Response(status_code=200, content_type="application/json", body=spec)
    script, style = _assets()
    page = generate_swagger_html(spec, script, style, "", None, persist_authorization=False)
    return Response(status_code=200, content_type="text/html", body=page)
