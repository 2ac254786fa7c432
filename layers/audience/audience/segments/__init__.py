"""Segment use cases: one module per thing a caller can do to a segment.

They take the tenant first, validate against the tenant's catalog and segments, and talk to storage
through ``audience.storage``; they know nothing about HTTP (the API router maps their errors).
"""
