"""`python -m infra.lint_template template.yaml`: cfn-lint on the SAM source AND on its translation.

cfn-lint alone checks the source, where SAM resources hide what they expand to: a circular dependency
(bucket -> function policy -> bucket) or a bad schedule only shows after `samtranslator` expands the
template, and the translator's own YAML parser rejects things cfn-lint accepts (an unquoted cron
expression). So this runs the translator, then cfn-lint on both documents, each in a subprocess
(cfn-lint sets AWS_DEFAULT_REGION process-wide).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


class TranslationError(Exception):
    """The SAM translator rejected the template."""


def translate(template_path: Path, region: str = "us-east-1") -> dict[str, Any]:
    """The CloudFormation document SAM would deploy, parsed the way SAM parses it."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    try:
        document = yaml_parse(template_path.read_text())
    except Exception as exc:  # the translator's YAML parser is stricter than cfn-lint's
        raise TranslationError(f"SAM's YAML parser rejects {template_path}: {exc}") from exc
    _point_local_code_at_s3(document)
    managed_policies = _bundled_managed_policy_map()
    # The region only fills ARNs' region part; no AWS call is made.
    session = boto3.Session(region_name=region, aws_access_key_id="lint", aws_secret_access_key="lint")
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=session)
    try:
        return translator.translate(
            document, parameter_values={}, get_managed_policy_map=lambda: managed_policies
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise TranslationError(f"SAM cannot translate {template_path}: {causes}") from exc


_LOCAL_CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


def _point_local_code_at_s3(document: dict[str, Any]) -> None:
    """Replace local code paths with S3 URIs, as `sam package` does before deploying."""
    for logical_id, resource in (document.get("Resources") or {}).items():
        prop = _LOCAL_CODE_PROPERTIES.get(resource.get("Type", ""))
        properties = resource.get("Properties") or {}
        if prop and isinstance(properties.get(prop), str) and not properties[prop].startswith("s3://"):
            properties[prop] = f"s3://sam-artifacts-placeholder/{logical_id}.zip"


def _bundled_managed_policy_map() -> dict[str, str]:
    """AWS managed policy name -> ARN, from the copy shipped with samtranslator (no AWS call)."""
    import samtranslator

    data = Path(samtranslator.__file__).parent / "internal" / "data" / "aws_managed_policies.json"
    by_partition = json.loads(data.read_text())
    return by_partition.get("aws", {})


def run_cfn_lint(path: Path) -> int:
    """cfn-lint in a child process; returns its exit code (0 = clean) after echoing its findings."""
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    command = [str(cfn_lint)] if cfn_lint.exists() else ["cfn-lint"]
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if output:
        print(output)
    return result.returncode


def lint(template_path: Path) -> int:
    """0 when the source and its SAM translation are both clean, else a non-zero code."""
    status = run_cfn_lint(template_path)
    print(f"cfn-lint {template_path}: {'ok' if status == 0 else f'FAILED ({status})'}")
    try:
        transformed = translate(template_path)
    except TranslationError as exc:
        print(str(exc))
        return status or 1
    with tempfile.TemporaryDirectory() as tmp:
        translated_path = Path(tmp) / "template.translated.json"
        translated_path.write_text(json.dumps(transformed, indent=1))
        translated_status = run_cfn_lint(translated_path)
    print(f"cfn-lint (SAM-translated): {'ok' if translated_status == 0 else f'FAILED ({translated_status})'}")
    return status or translated_status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", default="template.yaml", type=Path)
    args = parser.parse_args(argv)
    return lint(args.template)


if __name__ == "__main__":
    sys.exit(main())
