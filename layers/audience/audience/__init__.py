"""Audience segmentation domain: rule language, evaluators, storage and use cases.

Nothing in this package knows about Lambda events; the handlers in ``functions/`` translate events
into calls on it.
"""
