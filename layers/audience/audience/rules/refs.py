"""Segment references inside rules: which segments a rule uses, cycles, and evaluation order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from audience.rules.model import AllOf, AnyOf, Not, Rule, SegmentRef


def iter_nodes(rule: Rule) -> Iterator[Rule]:
    yield rule
    if isinstance(rule, AllOf | AnyOf):
        for child in rule.all if isinstance(rule, AllOf) else rule.any:
            yield from iter_nodes(child)
    elif isinstance(rule, Not):
        yield from iter_nodes(rule.not_)


def referenced_segments(rule: Rule) -> set[str]:
    return {node.segment for node in iter_nodes(rule) if isinstance(node, SegmentRef)}


def find_cycle(segment_id: str, rule: Rule, rules_of: Callable[[str], Rule | None]) -> list[str] | None:
    """The reference path `[segment_id, ..., segment_id]` that saving `rule` would close, or None."""
    path = [segment_id]
    on_path = {segment_id}
    done: set[str] = set()

    def visit(refs: set[str]) -> list[str] | None:
        for ref in sorted(refs):
            if ref in on_path:
                return [*path, ref]
            if ref in done:
                continue
            referenced = rules_of(ref)
            if referenced is None:
                done.add(ref)
                continue
            path.append(ref)
            on_path.add(ref)
            found = visit(referenced_segments(referenced))
            if found:
                return found
            path.pop()
            on_path.discard(ref)
            done.add(ref)
        return None

    return visit(referenced_segments(rule))


def dependency_order(rules: Mapping[str, Rule]) -> list[str]:
    """Segment ids so that every segment comes after the segments (among `rules`) it references.

    Raises ValueError on a cycle (saved rules are checked, so this means corrupted state).
    """
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(segment_id: str, trail: tuple[str, ...]) -> None:
        if state.get(segment_id) == 2:
            return
        if state.get(segment_id) == 1:
            raise ValueError("reference cycle: " + " -> ".join((*trail, segment_id)))
        state[segment_id] = 1
        for ref in sorted(referenced_segments(rules[segment_id])):
            if ref in rules:
                visit(ref, (*trail, segment_id))
        state[segment_id] = 2
        order.append(segment_id)

    for segment_id in rules:
        visit(segment_id, ())
    return order
