import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api, listAll, type FieldDef, type Segment } from "../api";
import { useTenant } from "../App";
import ErrorMessage from "../components/ErrorMessage";
import { useApi } from "../hooks";

export default function Settings() {
  const tenant = useTenant();
  return (
    <section>
      <h1>Settings</h1>
      {tenant?.tenant_id && <p>Tenant <strong>{tenant.name}</strong> ({tenant.tenant_id}); this key may {tenant.scopes.join(" and ")}.</p>}
      <Categories />
      <Suppression />
      <Campaigns />
      <Fields />
    </section>
  );
}

function Categories() {
  const categories = useApi(() => listAll<{ name: string; description?: string | null }>("/categories"), []);
  const segments = useApi(() => listAll<Segment>("/segments"), []);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const add = async (event: FormEvent) => {
    event.preventDefault();
    try { await api("POST", "/categories", { body: { name } }); setName(""); setError(null); categories.reload(); } catch (err) { setError(err); }
  };
  const remove = async (category: string) => {
    try { await api("DELETE", `/categories/${encodeURIComponent(category)}`); setError(null); categories.reload(); } catch (err) { setError(err); }
  };
  return (
    <section aria-label="Categories" className="panel">
      <h2>Categories</h2>
      <p className="hint">A contact is in at most one segment of a category; dynamic segments are filled by priority (lower first).</p>
      <ErrorMessage error={categories.error ?? error} />
      <ul>{categories.data?.map((c) => {
        const members = (segments.data ?? []).filter((s) => s.category === c.name).sort((a, b) => a.priority - b.priority);
        return (
          <li key={c.name}>
            <strong>{c.name}</strong>{" "}
            {members.map((s) => <span key={s.id} className="chip"><Link to={`/segments/${s.id}`}>{s.name}</Link> · priority {s.priority}</span>)}
            <button type="button" onClick={() => remove(c.name)} aria-label={`Delete category ${c.name}`}>Delete</button>
          </li>
        );
      })}</ul>
      <form onSubmit={add}><label>New category<input value={name} onChange={(e) => setName(e.target.value)} required /></label><button type="submit">Add category</button></form>
    </section>
  );
}

type SuppressionSettings = { received_at_least_never_clicked: { enabled: boolean; min_received: number }; rules: unknown; version: number };

function Suppression() {
  const settings = useApi(() => api<SuppressionSettings>("GET", "/settings/suppression"), []);
  const [enabled, setEnabled] = useState(false);
  const [minReceived, setMinReceived] = useState(10);
  const [rules, setRules] = useState("");
  const [message, setMessage] = useState("");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!settings.data) return;
    setEnabled(settings.data.received_at_least_never_clicked.enabled);
    setMinReceived(settings.data.received_at_least_never_clicked.min_received);
    setRules(settings.data.rules ? JSON.stringify(settings.data.rules, null, 2) : "");
  }, [settings.data]);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const body = { received_at_least_never_clicked: { enabled, min_received: minReceived }, rules: rules.trim() ? JSON.parse(rules) : null };
      settings.setData(await api<SuppressionSettings>("PUT", "/settings/suppression", { body, ifMatch: settings.data?.version }));
      setError(null);
      setMessage("Suppression saved.");
    } catch (err) {
      setMessage("");
      setError(err instanceof SyntaxError ? new Error(`Rules are not valid JSON: ${err.message}`) : err);
    }
  };
  return (
    <form aria-label="Suppression" className="panel" onSubmit={save}>
      <h2>Suppression</h2>
      <label className="check"><input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Global suppression: contacts that received at least N messages and never clicked</label>
      <label>N (messages received)<input type="number" min={1} value={minReceived} onChange={(e) => setMinReceived(Number(e.target.value))} /></label>
      <label>Suppression rules (JSON rule)<textarea rows={4} value={rules} onChange={(e) => setRules(e.target.value)} /></label>
      <button type="submit">Save suppression</button>
      {message && <span role="status">{message}</span>}
      <ErrorMessage error={settings.error ?? error} />
    </form>
  );
}

type Campaign = { id: string; name: string; segment_ids: string[]; status: string; start_at?: string | null; end_at?: string | null };

function Campaigns() {
  const campaigns = useApi(() => listAll<Campaign>("/campaigns"), []);
  const segments = useApi(() => listAll<Segment>("/segments", { public: "true" }), []);
  const [name, setName] = useState("");
  const [segmentId, setSegmentId] = useState("");
  const [error, setError] = useState<unknown>(null);
  const names = Object.fromEntries((segments.data ?? []).map((s) => [s.id, s.name]));
  const add = async (event: FormEvent) => {
    event.preventDefault();
    try { await api("POST", "/campaigns", { body: { name, segment_ids: [segmentId] } }); setName(""); setError(null); campaigns.reload(); } catch (err) { setError(err); }
  };
  return (
    <section aria-label="Campaigns" className="panel">
      <h2>Campaigns</h2>
      <ErrorMessage error={campaigns.error ?? error} />
      <table className="list"><thead><tr><th>Campaign</th><th>Status</th><th>Audience</th></tr></thead>
        <tbody>{campaigns.data?.map((c) => <tr key={c.id}><td>{c.name}</td><td>{c.status}</td><td>{c.segment_ids.map((id) => names[id] ?? id).join(", ")}</td></tr>)}</tbody>
      </table>
      <form onSubmit={add}>
        <label>Campaign name<input value={name} onChange={(e) => setName(e.target.value)} required /></label>
        <label>Audience (public segment)
          <select value={segmentId} onChange={(e) => setSegmentId(e.target.value)} required>
            <option value="">choose…</option>
            {segments.data?.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </label>
        <button type="submit">Add campaign</button>
      </form>
    </section>
  );
}

function Fields() {
  const fields = useApi(() => api<{ items: FieldDef[] }>("GET", "/fields").then((a) => a.items), []);
  const [name, setName] = useState("");
  const [type, setType] = useState("string");
  const [error, setError] = useState<unknown>(null);
  const add = async (event: FormEvent) => {
    event.preventDefault();
    try { await api("POST", "/fields", { body: { name, type } }); setName(""); setError(null); fields.reload(); } catch (err) { setError(err); }
  };
  return (
    <section aria-label="Fields" className="panel">
      <h2>Fields</h2>
      <ErrorMessage error={fields.error ?? error} />
      <p>{fields.data?.map((f) => <span key={f.name} className="chip">{f.name}: {f.type}{f.builtin ? "" : " (custom)"}</span>)}</p>
      <form onSubmit={add}>
        <label>Field name<input value={name} onChange={(e) => setName(e.target.value)} required /></label>
        <label>Field type
          <select value={type} onChange={(e) => setType(e.target.value)}>{["string", "number", "boolean", "date", "datetime", "list"].map((t) => <option key={t}>{t}</option>)}</select>
        </label>
        <button type="submit">Add field</button>
      </form>
    </section>
  );
}
