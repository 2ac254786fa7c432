import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
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
      <table className="list" aria-label="Segments" aria-busy={segments.loading}>
        <thead>
          <tr>
            <th>Name</th><th>Type</th><th>Category</th><th>Public</th><th>Topics</th>
            <th className="num">Members</th><th>Last evaluated</th><th>Status</th><th><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {segments.data?.map((segment) => (
            <tr key={segment.id}>
              <td><Link to={`/segments/${segment.id}`}>{segment.name}</Link></td>
              <td>{segment.type}</td>
              <td>{segment.category ?? ""}</td>
              <td>{segment.public ? "yes" : "no"}</td>
              <td>{segment.topics.join(", ")}</td>
              <td className="num">{numbers.format(segment.member_count)}</td>
              <td>{when(segment.last_evaluated_at)}</td>
              <td className={segment.evaluation_status === "failed" ? "failed" : ""}>{statusOf(segment)}</td>
              <td className="actions">
                <button type="button" onClick={() => clone(segment)} aria-label={`Clone ${segment.name}`}>Clone</button>
                <button type="button" onClick={() => remove(segment)} aria-label={`Delete ${segment.name}`}>Delete</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {segments.data && <p className="count">{segments.data.length} {segments.data.length === 1 ? "segment" : "segments"}</p>}
    </section>
  );
}
