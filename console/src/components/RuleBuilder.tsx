// The rule builder: react-querybuilder over the tenant's fields, plus activity conditions, segment
// references and holdout samples. Loaded on demand (it is the editor's heaviest dependency).
import { QueryBuilder, ValueEditor, type Field, type RuleGroupType, type ValueEditorProps } from "react-querybuilder";
import "react-querybuilder/dist/query-builder.css";
import type { FieldDef, Segment } from "../api";
import { EVENT_FIELD, OPERATORS_BY_TYPE, OPERATOR_LABELS, SAMPLE_FIELD, SEGMENT_FIELD, UNARY, type Activity, type Sample } from "../rules";

type Props = {
  fields: FieldDef[];
  segments: Segment[];
  query: RuleGroupType;
  onChange: (query: RuleGroupType) => void;
};

const AGGREGATES = ["count", "sum", "min", "max", "avg", "first_at", "last_at"];
const AGGREGATE_OPS = ["eq", "neq", "gt", "gte", "lt", "lte"];

function operators(names: string[]) {
  return names.map((name) => ({ name, value: name, label: OPERATOR_LABELS[name] ?? name, arity: UNARY.has(name) ? ("unary" as const) : undefined }));
}

function ActivityEditor({ value, handleOnChange }: ValueEditorProps) {
  const activity: Activity = value && typeof value === "object" ? value : { event: "" };
  const aggregate = activity.aggregate ?? { fn: "count", op: "gte", value: 1 };
  const set = (patch: Partial<Activity>) => handleOnChange({ ...activity, ...patch });
  const setAggregate = (patch: Partial<typeof aggregate>) => set({ aggregate: { ...aggregate, ...patch } });
  const whereText = activity.where?.length ? JSON.stringify(activity.where) : "";
  return (
    <span className="activity">
      <input aria-label="Event name" placeholder="event, e.g. purchase" value={activity.event} onChange={(e) => set({ event: e.target.value })} />
      <label>
        in the last
        <input aria-label="Window (days)" type="number" min={1} style={{ width: "5em" }} value={activity.within_last_days ?? ""}
          onChange={(e) => set({ within_last_days: e.target.value ? Number(e.target.value) : null })} />
        days,
      </label>
      <select aria-label="Aggregate" value={aggregate.fn} onChange={(e) => setAggregate({ fn: e.target.value })}>
        {AGGREGATES.map((fn) => <option key={fn}>{fn}</option>)}
      </select>
      {aggregate.fn !== "count" && aggregate.fn !== "first_at" && aggregate.fn !== "last_at" && (
        <input aria-label="Aggregate property" placeholder="property" value={aggregate.field ?? ""} onChange={(e) => setAggregate({ field: e.target.value })} />
      )}
      <select aria-label="Aggregate operator" value={aggregate.op} onChange={(e) => setAggregate({ op: e.target.value })}>
        {AGGREGATE_OPS.map((op) => <option key={op} value={op}>{OPERATOR_LABELS[op]}</option>)}
      </select>
      <input aria-label="Aggregate value" style={{ width: "6em" }} value={String(aggregate.value ?? "")}
        onChange={(e) => setAggregate({ value: Number.isNaN(Number(e.target.value)) ? e.target.value : Number(e.target.value) })} />
      <input aria-label="Where (JSON list of conditions)" placeholder='where: [{"field": "amount", "op": "gt", "value": 10}]' defaultValue={whereText}
        onBlur={(e) => { try { set({ where: e.target.value ? JSON.parse(e.target.value) : [] }); } catch { /* shown as invalid by the API's 422 */ } }} />
    </span>
  );
}

function SampleEditor({ value, handleOnChange }: ValueEditorProps) {
  const sample: Sample = value && typeof value === "object" ? value : { from: 0, to: 10, seed: "holdout" };
  const set = (patch: Partial<Sample>) => handleOnChange({ ...sample, ...patch });
  return (
    <span className="sample">
      <input aria-label="Sample from %" type="number" min={0} max={100} value={sample.from} onChange={(e) => set({ from: Number(e.target.value) })} />
      to
      <input aria-label="Sample to %" type="number" min={0} max={100} value={sample.to} onChange={(e) => set({ to: Number(e.target.value) })} />
      % with seed
      <input aria-label="Sample seed" value={sample.seed} onChange={(e) => set({ seed: e.target.value })} />
    </span>
  );
}

function RuleValueEditor(props: ValueEditorProps) {
  if (props.field === EVENT_FIELD) return <ActivityEditor {...props} />;
  if (props.field === SAMPLE_FIELD) return <SampleEditor {...props} />;
  return <ValueEditor {...props} />;
}

export default function RuleBuilder({ fields, segments, query, onChange }: Props) {
  const types = Object.fromEntries(fields.map((field) => [field.name, field.type]));
  const builderFields: Field[] = [
    ...fields.map((field) => ({
      name: field.name,
      value: field.name,
      label: field.label || field.name,
      operators: operators(OPERATORS_BY_TYPE[field.type] ?? OPERATORS_BY_TYPE.string),
      inputType: field.type === "number" ? "number" : field.type === "date" ? "date" : "text",
    })),
    { name: EVENT_FIELD, value: EVENT_FIELD, label: "Activity (event)", operators: operators(["did"]) },
    {
      name: SEGMENT_FIELD, value: SEGMENT_FIELD, label: "Member of segment", operators: operators(["member_of"]),
      valueEditorType: "select", values: segments.map((s) => ({ name: s.id, value: s.id, label: s.name })),
    },
    { name: SAMPLE_FIELD, value: SAMPLE_FIELD, label: "Holdout sample", operators: operators(["in_bucket"]) },
  ];
  return (
    <QueryBuilder
      fields={builderFields}
      query={query}
      onQueryChange={onChange}
      showNotToggle
      combinators={[{ name: "and", value: "and", label: "AND (all)" }, { name: "or", value: "or", label: "OR (any)" }]}
      controlElements={{ valueEditor: RuleValueEditor }}
      getDefaultValue={(rule) => {
        if (rule.field === EVENT_FIELD) return { event: "", aggregate: { fn: "count", op: "gte", value: 1 } };
        if (rule.field === SAMPLE_FIELD) return { from: 0, to: 10, seed: "holdout" };
        if (rule.field === SEGMENT_FIELD) return segments[0]?.id ?? "";
        return types[rule.field] === "number" ? 0 : "";
      }}
    />
  );
}
