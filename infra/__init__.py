"""Deployment tooling: template parsing, the local stack (`make run`) and template linting.

Nothing here ships in the Lambda layer; it runs on a developer's machine and in CI.
"""
