"""template.yaml's web console: a private bucket behind CloudFront, and the API open to its origin."""

from __future__ import annotations

import pytest

from infra.deploy_console import upload_plan
from infra.lint_template import translate
from infra.template_resources import TEMPLATE_PATH, load_template, plan_resources


@pytest.fixture(scope="module")
def resources():
    return translate(TEMPLATE_PATH)["Resources"]


def test_cloudfront_serves_the_console_over_https_only_with_a_single_page_fallback(resources):
    config = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    fallbacks = {e["ErrorCode"]: (e["ResponseCode"], e["ResponsePagePath"]) for e in config["CustomErrorResponses"]}
    assert fallbacks == {403: (200, "/console/index.html"), 404: (200, "/console/index.html")}


def test_only_cloudfront_reads_the_console_bucket(resources):
    bucket = resources["ConsoleBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statements = resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    read = next(s for s in statements if s["Effect"] == "Allow")
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert "AWS:SourceArn" in read["Condition"]["StringEquals"]


def test_the_api_allows_the_console_origin_and_answers_preflights_without_the_authorizer(resources):
    api_env = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["CORS_ALLOW_ORIGIN"] == {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}
    api = next(r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi")
    proxy = api["Properties"]["Body"]["paths"]["/{proxy+}"]
    assert proxy["options"]["security"] == [{"NONE": []}]  # browsers send preflights without the key
    assert proxy["x-amazon-apigateway-any-method"]["security"] == [{"ApiKeyAuthorizer": []}]


def test_the_local_stack_skips_cloudfront_but_resolves_its_domain_for_cors():
    local = plan_resources(load_template())
    assert "ConsoleBucket" in local.buckets  # created on moto like every bucket
    assert "ConsoleDistribution" not in local.names
    origin = local.env("ApiFunction")["CORS_ALLOW_ORIGIN"]
    assert origin == "https://console-distribution.cloudfront.localhost"


def test_deploy_console_uploads_every_file_under_console_with_its_cache_policy(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>")
    (tmp_path / "assets" / "app-1.js").write_text("x")
    plan = {key: (content_type, cache) for _, key, content_type, cache in upload_plan(tmp_path)}
    assert plan["console/index.html"] == ("text/html", "no-cache")
    assert plan["console/assets/app-1.js"][1] == "public, max-age=31536000, immutable"
