// The service's rule JSON (SPEC §2) <-> react-querybuilder's query tree, and the operators by type.
import type { RuleGroupType, RuleType } from "react-querybuilder";

export const OPERATORS_BY_TYPE: Record<string, string[]> = {
  string: ["eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "matches", "is_empty", "is_not_empty"],
  number: ["eq", "neq", "gt", "gte", "lt", "lte", "between", "in", "not_in", "is_empty", "is_not_empty"],
  boolean: ["is_true", "is_false", "is_empty", "is_not_empty"],
  date: ["on", "before", "after", "between", "within_last_days", "more_than_days_ago", "within_next_days", "is_empty", "is_not_empty"],
  datetime: ["on", "before", "after", "between", "within_last_days", "more_than_days_ago", "within_next_days", "is_empty", "is_not_empty"],
  list: ["has_any", "has_all", "has_none", "is_empty", "is_not_empty"],
};

export const OPERATOR_LABELS: Record<string, string> = {
  eq: "equals", neq: "does not equal", in: "is one of", not_in: "is not one of", contains: "contains",
  not_contains: "does not contain", starts_with: "starts with", ends_with: "ends with", matches: "matches regex",
  is_empty: "is empty", is_not_empty: "is not empty", gt: ">", gte: ">=", lt: "<", lte: "<=", between: "between",
  is_true: "is true", is_false: "is false", on: "on", before: "before", after: "after",
  within_last_days: "within last N days", more_than_days_ago: "more than N days ago",
  within_next_days: "within next N days", has_any: "has any of", has_all: "has all of", has_none: "has none of",
  member_of: "is a member of", did: "did", in_bucket: "is in sample bucket",
};

export const UNARY = new Set(["is_empty", "is_not_empty", "is_true", "is_false"]);
const LISTS = new Set(["in", "not_in", "has_any", "has_all", "has_none"]);
const DAYS = new Set(["within_last_days", "more_than_days_ago", "within_next_days"]);

// Pseudo-fields of the builder for the non-field conditions of the rule language.
export const SEGMENT_FIELD = "@segment";
export const EVENT_FIELD = "@event";
export const SAMPLE_FIELD = "@sample";

export type Activity = {
  event: string;
  within_last_days?: number | null;
  where?: Array<Record<string, unknown>>;
  aggregate?: { fn: string; field?: string; op: string; value: unknown };
};
export type Sample = { from: number; to: number; seed: string };

function splitList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return String(value ?? "").split(",").map((part) => part.trim()).filter(Boolean);
}

function scalar(value: unknown, type: string): unknown {
  if (type === "number") {
    const number = Number(value);
    return value === "" || Number.isNaN(number) ? value : number;
  }
  return value;
}

function conditionValue(op: string, value: unknown, type: string): unknown {
  if (DAYS.has(op)) return Number(value);
  if (LISTS.has(op)) return splitList(value).map((item) => scalar(item, type));
  if (op === "between") return splitList(value).slice(0, 2).map((item) => scalar(item, type));
  return scalar(value, type);
}

/** A builder tree -> the service's rule, or null when there is no condition yet. */
export function toServiceRule(group: RuleGroupType, types: Record<string, string>): Record<string, unknown> | null {
  const children = group.rules
    .map((child) => ("rules" in child ? toServiceRule(child, types) : conditionRule(child, types)))
    .filter((child): child is Record<string, unknown> => child !== null);
  if (children.length === 0) return null;
  const combined = { [group.combinator === "or" ? "any" : "all"]: children };
  return group.not ? { not: combined } : combined;
}

function conditionRule(rule: RuleType, types: Record<string, string>): Record<string, unknown> | null {
  if (rule.field === SEGMENT_FIELD) return rule.value ? { segment: rule.value } : null;
  if (rule.field === EVENT_FIELD) {
    const activity = rule.value as Activity | undefined;
    if (!activity?.event) return null;
    const out: Record<string, unknown> = { event: activity.event };
    if (activity.within_last_days) out.within_last_days = Number(activity.within_last_days);
    if (activity.where?.length) out.where = activity.where;
    if (activity.aggregate) out.aggregate = activity.aggregate;
    return out;
  }
  if (rule.field === SAMPLE_FIELD) {
    const sample = rule.value as Sample | undefined;
    return sample ? { sample: { from: Number(sample.from), to: Number(sample.to), seed: sample.seed } } : null;
  }
  const type = types[rule.field] ?? "string";
  const out: Record<string, unknown> = { field: rule.field, op: rule.operator };
  if (!UNARY.has(rule.operator)) out.value = conditionValue(rule.operator, rule.value, type);
  return out;
}

let nextId = 0;
const id = () => `r${++nextId}`;

/** The service's rule -> a builder tree (for editing a saved segment). */
export function fromServiceRule(rule: Record<string, any> | null | undefined): RuleGroupType {
  if (!rule) return { id: id(), combinator: "and", rules: [] };
  if (rule.all || rule.any) {
    const children = (rule.all ?? rule.any) as Array<Record<string, any>>;
    return {
      id: id(),
      combinator: rule.all ? "and" : "or",
      rules: children.map((child) => (child.all || child.any || child.not ? fromServiceRule(child) : fromCondition(child))),
    };
  }
  if (rule.not) {
    const inner = rule.not.all || rule.not.any ? fromServiceRule(rule.not) : { id: id(), combinator: "and", rules: [fromCondition(rule.not)] };
    return { ...inner, not: true };
  }
  return { id: id(), combinator: "and", rules: [fromCondition(rule)] };
}

function fromCondition(rule: Record<string, any>): RuleType {
  if ("segment" in rule) return { id: id(), field: SEGMENT_FIELD, operator: "member_of", value: rule.segment };
  if ("event" in rule) return { id: id(), field: EVENT_FIELD, operator: "did", value: rule };
  if ("sample" in rule) return { id: id(), field: SAMPLE_FIELD, operator: "in_bucket", value: rule.sample };
  const value = Array.isArray(rule.value) ? rule.value.join(", ") : (rule.value ?? "");
  return { id: id(), field: rule.field, operator: rule.op, value };
}
