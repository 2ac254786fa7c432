import { lazy, Suspense, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, listAll, pollJob, type Job, type Segment } from "../api";
import ErrorMessage from "../components/ErrorMessage";
import ExportForm from "../components/ExportForm";
import Pager, { usePages } from "../components/Pager";
import { useApi } from "../hooks";
import { statusOf, when } from "./SegmentsList";

const StatsChart = lazy(() => import("../components/StatsChart"));

type Member = { contact_id: string; email?: string; first_name?: string; last_name?: string; [k: string]: unknown };
type Uses = { segments: Array<{ id: string; name: string }>; campaigns: Array<{ id: string; name: string; status: string }> };
type Change = { contact_id: string; change: string; at: string; source: string };

export default function SegmentPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const segment = useApi(() => api<Segment>("GET", `/segments/${id}`), [id]);
  const stats = useApi(() => api("GET", `/segments/${id}/stats`), [id, segment.data?.last_evaluated_at, segment.data?.member_count]);
  const uses = useApi(() => api<Uses>("GET", `/segments/${id}/uses`), [id]);
  const history = useApi(() => api<{ items: Change[] }>("GET", `/segments/${id}/history`, { query: { limit: 20 } }), [id, segment.data?.member_count]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [panel, setPanel] = useState<string | null>(null);

  const s = segment.data;
  if (segment.error) return <ErrorMessage error={segment.error} />;
  if (!s) return <p className="loading">Loading…</p>;

  const act = async (label: string, work: () => Promise<string | void>) => {
    setError(null);
    setNotice(`${label}…`);
    try {
      setNotice((await work()) ?? `${label} done.`);
    } catch (err) {
      setNotice("");
      setError(err);
    }
  };

  const evaluate = () => act("Evaluating", async () => {
    const before = s.last_evaluated_at;
    await api("POST", `/segments/${id}/evaluate`);
    for (let i = 0; i < 120; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const now = await api<Segment>("GET", `/segments/${id}`);
      if (now.last_evaluated_at !== before || now.evaluation_status === "failed") {
        segment.setData(now);
        return now.evaluation_status === "failed" ? `Evaluation failed: ${now.evaluation_error}` : `Evaluated: ${now.member_count} members.`;
      }
    }
    return "Evaluation queued; it has not finished yet.";
  });

  const runJob = (label: string, path: string, body: unknown) => act(label, async () => {
    const queued = await api<Job>("POST", path, { body });
    const done = await pollJob(`/jobs/${queued.job_id}`, (job) => setNotice(`${label}: ${job.status}`));
    segment.reload();
    return done.status === "succeeded" ? `${label} succeeded.` : `${label} failed: ${JSON.stringify(done.error)}`;
  });

  return (
    <section>
      <div className="toolbar">
        <h1>{s.name}</h1>
        <button type="button" onClick={evaluate} disabled={s.type !== "dynamic"}>Evaluate now</button>
        {s.type === "dynamic" && <button type="button" onClick={() => navigate(`/segments/${id}/edit`)}>Edit</button>}
        {["Export", "Save as list", "Mass update", "Reset score", "Transfer"].map((name) => (
          <button key={name} type="button" aria-pressed={panel === name} onClick={() => setPanel(panel === name ? null : name)}>{name}</button>
        ))}
      </div>
      <dl className="facts">
        <dt>Members</dt><dd aria-label="Member count">{s.member_count}</dd>
        <dt>Type</dt><dd>{s.type}</dd>
        <dt>Category</dt><dd>{s.category ?? "—"} (priority {s.priority})</dd>
        <dt>Public</dt><dd>{s.public ? "yes" : "no"}</dd>
        <dt>Last evaluated</dt><dd>{when(s.last_evaluated_at)}</dd>
        <dt>Status</dt><dd>{statusOf(s)}</dd>
      </dl>
      {notice && <p role="status">{notice}</p>}
      <ErrorMessage error={error} />
      {panel === "Export" && <ExportForm segmentId={id} />}
      {panel === "Save as list" && <SaveAsList onSave={(name) => act("Saving as list", async () => {
        const list = await api<Segment>("POST", `/segments/${id}/save-as-list`, { body: { name } });
        navigate(`/segments/${list.id}`);
      })} />}
      {panel === "Mass update" && <MassUpdate onRun={(set) => runJob("Mass update", `/segments/${id}/mass-update`, { set })} />}
      {panel === "Reset score" && <ResetScore onRun={(reason) => runJob("Score reset", `/segments/${id}/reset-score`, { reason, confirm: true })} />}
      {panel === "Transfer" && <Transfer from={id} onDone={() => segment.reload()} act={act} />}

      <h2>Members over time</h2>
      <ErrorMessage error={stats.error} />
      {stats.data && (
        <>
          <p>{stats.data.added} added and {stats.data.removed} removed from {stats.data.from} to {stats.data.to}.</p>
          <Suspense fallback={<p className="loading">Loading chart…</p>}><StatsChart days={stats.data.days} from={stats.data.from} to={stats.data.to} /></Suspense>
        </>
      )}
      <Members key={`${s.last_evaluated_at}:${s.member_count}`} segmentId={id} />
      <h2>Uses</h2>
      {uses.data && (uses.data.segments.length || uses.data.campaigns.length ? (
        <ul>
          {uses.data.segments.map((u) => <li key={u.id}>rules of segment <Link to={`/segments/${u.id}`}>{u.name}</Link></li>)}
          {uses.data.campaigns.map((c) => <li key={c.id}>campaign {c.name} ({c.status})</li>)}
        </ul>
      ) : <p>Not used by other segments or campaigns.</p>)}
      {!history.missing && history.data && (
        <>
          <h2>Recent changes</h2>
          <table className="list" aria-label="Membership history">
            <thead><tr><th>Contact</th><th>Change</th><th>When</th><th>Source</th></tr></thead>
            <tbody>{history.data.items.map((h, i) => (
              <tr key={i}><td><Link to={`/contacts/${encodeURIComponent(h.contact_id)}`}>{h.contact_id}</Link></td><td>{h.change}</td><td>{when(h.at)}</td><td>{h.source}</td></tr>
            ))}</tbody>
          </table>
        </>
      )}
    </section>
  );
}

function Members({ segmentId }: { segmentId: string }) {
  const [filter, setFilter] = useState("");
  const pages = usePages<Member>(`/segments/${segmentId}/members`);
  const page = pages.page;
  const needle = filter.toLowerCase();
  const rows = (page.data?.items ?? []).filter((m) => !needle || JSON.stringify(m).toLowerCase().includes(needle));
  return (
    <section aria-label="Members">
      <h2>Members</h2>
      <input type="search" aria-label="Search members" placeholder="Search this page" value={filter} onChange={(e) => setFilter(e.target.value)} />
      <ErrorMessage error={page.error} />
      <table className="list" aria-label="Members list">
        <thead><tr><th>Contact</th><th>Email</th><th>First name</th><th>Last name</th></tr></thead>
        <tbody>{rows.map((m) => (
          <tr key={m.contact_id}><td><Link to={`/contacts/${encodeURIComponent(m.contact_id)}`}>{m.contact_id}</Link></td><td>{m.email ?? ""}</td><td>{m.first_name ?? ""}</td><td>{m.last_name ?? ""}</td></tr>
        ))}</tbody>
      </table>
      <Pager {...pages} />
    </section>
  );
}

function SaveAsList({ onSave }: { onSave: (name: string) => void }) {
  const [name, setName] = useState("");
  return (
    <form className="panel" onSubmit={(e: FormEvent) => { e.preventDefault(); onSave(name); }}>
      <label>List name<input value={name} onChange={(e) => setName(e.target.value)} required /></label>
      <button type="submit">Save current members as a static list</button>
    </form>
  );
}

function MassUpdate({ onRun }: { onRun: (set: Record<string, unknown>) => void }) {
  const [field, setField] = useState("");
  const [value, setValue] = useState("");
  return (
    <form className="panel" onSubmit={(e: FormEvent) => { e.preventDefault(); onRun({ [field]: value === "" ? null : Number.isNaN(Number(value)) ? value : Number(value) }); }}>
      <label>Field<input value={field} onChange={(e) => setField(e.target.value)} required /></label>
      <label>New value<input value={value} onChange={(e) => setValue(e.target.value)} /></label>
      <button type="submit">Update every member</button>
    </form>
  );
}

function ResetScore({ onRun }: { onRun: (reason: string) => void }) {
  const [reason, setReason] = useState("");
  const [sure, setSure] = useState(false);
  return (
    <form className="panel" onSubmit={(e: FormEvent) => { e.preventDefault(); onRun(reason); }}>
      <label>Reason (audited)<input value={reason} onChange={(e) => setReason(e.target.value)} required /></label>
      <label className="check"><input type="checkbox" checked={sure} onChange={(e) => setSure(e.target.checked)} /> Set every member's score to 0</label>
      <button type="submit" disabled={!sure}>Reset score</button>
    </form>
  );
}

function Transfer({ from, onDone, act }: { from: string; onDone: () => void; act: (label: string, work: () => Promise<string | void>) => void }) {
  const targets = useApi(() => listAll<Segment>("/segments", { type: "static" }), []);
  const [ids, setIds] = useState("");
  const [to, setTo] = useState("");
  return (
    <form className="panel" onSubmit={(e: FormEvent) => {
      e.preventDefault();
      act("Transferring", async () => {
        const contact_ids = ids.split(/[\s,]+/).filter(Boolean);
        const answer = await api<{ transferred: number; not_members: string[] }>(
          "POST", `/segments/${from}/transfer`, { body: { contact_ids, to } });
        onDone();
        const skipped = answer.not_members.length ? ` Not members, left alone: ${answer.not_members.join(", ")}.` : "";
        return `Transferred ${answer.transferred} contact${answer.transferred === 1 ? "" : "s"}.${skipped}`;
      });
    }}>
      <label>Contact ids<textarea value={ids} onChange={(e) => setIds(e.target.value)} required /></label>
      <label>To segment
        <select value={to} onChange={(e) => setTo(e.target.value)} required>
          <option value="">choose…</option>
          {targets.data?.filter((t) => t.id !== from).map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
        </select>
      </label>
      <button type="submit">Transfer</button>
    </form>
  );
}
