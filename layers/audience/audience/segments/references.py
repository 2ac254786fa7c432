"""Segment references inside rules (``{"segment": ID}``) and the cycle check across segments.

Stored segments keep the ids their rules name (``references``), so the reference graph of a tenant
comes from one Query; a change is checked against it before it is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def segment_references(rule: Any, pointer: str = "/rules") -> Iterator[tuple[str, str]]:
    """Every ``(segment_id, json_pointer)`` named by ``{"segment": ...}`` nodes of a rule tree."""
    if isinstance(rule, dict):
        if isinstance(rule.get("segment"), str) and set(rule) == {"segment"}:
            yield rule["segment"], pointer + "/segment"
            return
        for key, value in rule.items():
            yield from segment_references(value, f"{pointer}/{_escape(key)}")
    elif isinstance(rule, list):
        for index, value in enumerate(rule):
            yield from segment_references(value, f"{pointer}/{index}")


def find_cycle(graph: Mapping[str, list[str]], start: str) -> list[str] | None:
    """A path ``start -> ... -> start`` through ``graph`` (segment -> referenced segments), or None."""
    path: list[str] = [start]
    on_path = {start}
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt in on_path or nxt in done:
                continue
            path.append(nxt)
            on_path.add(nxt)
            found = visit(nxt)
            if found:
                return found
            on_path.discard(path.pop())
            done.add(nxt)
        return None

    return visit(start)


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
