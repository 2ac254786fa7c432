import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, listAll } from "../api";
import ErrorMessage from "../components/ErrorMessage";
import { useApi } from "../hooks";
import { when } from "./SegmentsList";

type Membership = { id: string; name: string; type: string; category?: string | null; source: string; added_at: string };
type Change = { segment_id: string; change: string; at: string; source: string };
type Explanation = { member: boolean; matches: boolean; reason: string; placed_in?: string; tree?: unknown };

export default function ContactPage() {
  const { id = "" } = useParams();
  const path = `/contacts/${encodeURIComponent(id)}`;
  const contact = useApi(() => api<Record<string, unknown>>("GET", path), [id]);
  const segments = useApi(() => api<{ items: Membership[] }>("GET", `${path}/segments`), [id]);
  const history = useApi(() => api<{ items: Change[] }>("GET", `${path}/history`, { query: { limit: 50 } }), [id]);
  // History names segments by id, including ones the contact has left: their names come from the list.
  const names = useApi(() => listAll<{ id: string; name: string }>("/segments"), []);
  const nameOf = (segmentId: string) => names.data?.find((s) => s.id === segmentId)?.name ?? segmentId;
  const [explanations, setExplanations] = useState<Record<string, Explanation | string>>({});
  const [explainMissing, setExplainMissing] = useState(false);

  const explain = async (segmentId: string) => {
    try {
      const answer = await api<Explanation>("GET", `/segments/${segmentId}/explain/${encodeURIComponent(id)}`);
      setExplanations((all) => ({ ...all, [segmentId]: answer }));
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing) setExplainMissing(true);
      else setExplanations((all) => ({ ...all, [segmentId]: error instanceof ApiError ? error.readable : String(error) }));
    }
  };

  if (contact.error) return <ErrorMessage error={contact.error} />;
  return (
    <section>
      <h1>Contact {id}</h1>
      {contact.data && (
        <dl className="facts">
          {Object.entries(contact.data).map(([name, value]) => (
            <div key={name} className="fact"><dt>{name}</dt><dd>{Array.isArray(value) ? value.join(", ") : value === null ? "—" : String(value)}</dd></div>
          ))}
        </dl>
      )}
      <h2>Segments</h2>
      <ErrorMessage error={segments.error} />
      <table className="list" aria-label="Segments of this contact">
        <thead><tr><th>Segment</th><th>Type</th><th>Category</th><th>Since</th><th>Source</th><th><span className="sr-only">Explain</span></th></tr></thead>
        <tbody>{segments.data?.items.map((m) => (
          <tr key={m.id}>
            <td><Link to={`/segments/${m.id}`}>{m.name}</Link></td><td>{m.type}</td><td>{m.category ?? ""}</td><td>{when(m.added_at)}</td><td>{m.source}</td>
            <td>
              {!explainMissing && <button type="button" onClick={() => explain(m.id)}>Explain</button>}
              {typeof explanations[m.id] === "string" && <span className="error">{explanations[m.id] as string}</span>}
              {typeof explanations[m.id] === "object" && <span>{(explanations[m.id] as Explanation).reason}</span>}
            </td>
          </tr>
        ))}</tbody>
      </table>
      {!history.missing && history.data && (
        <>
          <h2>History</h2>
          <table className="list" aria-label="Contact history">
            <thead><tr><th>Segment</th><th>Change</th><th>When</th><th>Source</th></tr></thead>
            <tbody>{history.data.items.map((h, i) => (
              <tr key={i}><td><Link to={`/segments/${h.segment_id}`}>{nameOf(h.segment_id)}</Link></td><td>{h.change}</td><td>{when(h.at)}</td><td>{h.source}</td></tr>
            ))}</tbody>
          </table>
        </>
      )}
    </section>
  );
}
