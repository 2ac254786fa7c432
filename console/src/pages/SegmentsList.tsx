import { memo, useState, type MouseEvent } from "react";
import { useNavigate } from "react-router-dom";
import { api, listAll, type Segment } from "../api";
import ErrorMessage from "../components/ErrorMessage";
import { useApi, useDebounced } from "../hooks";

export function statusOf(segment: Segment): string {
  if (segment.evaluation_status === "failed") return `failed: ${segment.evaluation_error ?? "unknown reason"}`;
  return segment.evaluation_status ?? (segment.type === "static" ? "list" : segment.last_evaluated_at ? "evaluated" : "not evaluated");
}

// One formatter each: a Date's toLocaleString builds a new one per call, which a 1,000-row list feels.
const dates = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const numbers = new Intl.NumberFormat("en-US");
export const when = (iso?: string | null) => (iso ? dates.format(new Date(iso)) : "—");

export default function SegmentsList() {
  const navigate = useNavigate();
  const [q, setQ] = useState("");
  const [type, setType] = useState("");
  const [category, setCategory] = useState("");
  const [visibility, setVisibility] = useState("");
  const [actionError, setActionError] = useState<unknown>(null);
  const query = useDebounced(q, 250);
  const categories = useApi(() => listAll<{ name: string }>("/categories"), []);
  const segments = useApi(
    () => listAll<Segment>("/segments", { q: query, type, category, public: visibility }),
    [query, type, category, visibility],
  );

  // One handler for the whole table (a router Link per row costs a 1,000-row list its budget):
  // links stay real links, actions are named by data attributes.
  const follow = (event: MouseEvent) => {
    const target = event.target as HTMLElement;
    const action = target.closest<HTMLButtonElement>("button[data-action]");
    const segment = action && segments.data?.find((s) => s.id === action.dataset.id);
    if (segment) return void (action.dataset.action === "clone" ? clone(segment) : remove(segment));
    const link = target.closest<HTMLAnchorElement>("a[data-id]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(`/segments/${link.dataset.id}`);
  };
  const clone = async (segment: Segment) => {
    const name = window.prompt("Name of the copy", `${segment.name} (copy)`);
    if (!name) return;
    try {
      const copy = await api<Segment>("POST", `/segments/${segment.id}/clone`, { body: { name } });
      navigate(`/segments/${copy.id}`);
    } catch (error) {
      setActionError(error);
    }
  };
  const remove = async (segment: Segment) => {
    if (!window.confirm(`Delete segment "${segment.name}"? Its contacts are kept.`)) return;
    try {
      await api("DELETE", `/segments/${segment.id}`, { ifMatch: segment.version });
      setActionError(null);
      segments.reload();
    } catch (error) {
      setActionError(error); // 409 names the segments and campaigns that still use it
    }
  };

  return (
    <section>
      <div className="toolbar">
        <h1>Segments</h1>
        <button type="button" className="primary" onClick={() => navigate("/segments/new")}>New segment</button>
      </div>
      <div className="filters">
        <input type="search" aria-label="Search segments" placeholder="Search by name" value={q} onChange={(e) => setQ(e.target.value)} />
        <select aria-label="Type" value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">All types</option><option value="dynamic">dynamic</option><option value="static">static</option>
        </select>
        <select aria-label="Category" value={category} onChange={(e) => setCategory(e.target.value)}>
          <option value="">All categories</option>
          {categories.data?.map((c) => <option key={c.name}>{c.name}</option>)}
        </select>
        <select aria-label="Visibility" value={visibility} onChange={(e) => setVisibility(e.target.value)}>
          <option value="">Public and private</option><option value="true">public</option><option value="false">private</option>
        </select>
      </div>
      <ErrorMessage error={segments.error ?? actionError} />
      {/* An ARIA table of grid rows in blocks of 50: off-screen blocks skip layout and paint
          (content-visibility), yet every row stays in the page, for search and screen readers. */}
      <div role="table" className="grid-table segments" aria-label="Segments" aria-busy={segments.loading} aria-rowcount={(segments.data?.length ?? 0) + 1} onClick={follow}>
        <div role="rowgroup" className="head">
          <div role="row" className="row">
            {COLUMNS.map((name) => <div role="columnheader" key={name} className={name === "Members" ? "num" : ""}>{name}</div>)}
            <div role="columnheader"><span className="sr-only">Actions</span></div>
          </div>
        </div>
        {blocks(segments.data ?? []).map((block) => (
          <div role="rowgroup" className="block" key={block[0].id}>
            {block.map((segment) => <SegmentRow key={segment.id} segment={segment} />)}
          </div>
        ))}
      </div>
      {segments.data && <p className="count">{segments.data.length} {segments.data.length === 1 ? "segment" : "segments"}</p>}
    </section>
  );
}

const COLUMNS = ["Name", "Type", "Category", "Public", "Topics", "Members", "Last evaluated", "Status"];
const BLOCK = 50;

function blocks(items: Segment[]): Segment[][] {
  const out: Segment[][] = [];
  for (let i = 0; i < items.length; i += BLOCK) out.push(items.slice(i, i + BLOCK));
  return out;
}

const SegmentRow = memo(function SegmentRow({ segment }: { segment: Segment }) {
  const failed = segment.evaluation_status === "failed";
  return (
    <div role="row" className="row">
      <div role="cell"><a href={`${import.meta.env.BASE_URL}segments/${segment.id}`} data-id={segment.id}>{segment.name}</a></div>
      <div role="cell">{segment.type}</div>
      <div role="cell">{segment.category ?? ""}</div>
      <div role="cell">{segment.public ? "yes" : "no"}</div>
      <div role="cell">{segment.topics.join(", ")}</div>
      <div role="cell" className="num">{numbers.format(segment.member_count)}</div>
      <div role="cell">{when(segment.last_evaluated_at)}</div>
      <div role="cell" className={failed ? "failed" : ""} title={failed ? statusOf(segment) : undefined}>{statusOf(segment)}</div>
      <div role="cell" className="actions">
        <button type="button" data-action="clone" data-id={segment.id} aria-label={`Clone ${segment.name}`}>Clone</button>
        <button type="button" data-action="delete" data-id={segment.id} aria-label={`Delete ${segment.name}`}>Delete</button>
      </div>
    </div>
  );
});
