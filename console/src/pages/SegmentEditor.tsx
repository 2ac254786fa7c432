import { lazy, Suspense, useEffect, useMemo, useState, type FormEvent } from "react";
import type { RuleGroupType } from "react-querybuilder";
import { useNavigate, useParams } from "react-router-dom";
import { api, ApiError, listAll, type FieldDef, type Segment } from "../api";
import ErrorMessage from "../components/ErrorMessage";
import { useApi, useDebounced } from "../hooks";
import { fromServiceRule, toServiceRule } from "../rules";

const RuleBuilder = lazy(() => import("../components/RuleBuilder"));

type Preview = { count: number };
type Change = { count_now: number; count_after: number; entering: number; leaving: number; sample_entering?: string[]; sample_leaving?: string[] };  // samples are contact ids (ChangePreview)

export default function SegmentEditor() {
  const { id } = useParams();
  const navigate = useNavigate();
  const existing = useApi(() => (id ? api<Segment>("GET", `/segments/${id}`) : Promise.resolve(null)), [id]);
  const fields = useApi(() => api<{ items: FieldDef[] }>("GET", "/fields").then((a) => a.items), []);
  const segments = useApi(() => listAll<Segment>("/segments"), []);
  const categories = useApi(() => listAll<{ name: string }>("/categories"), []);

  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [type, setType] = useState<"dynamic" | "static">("dynamic");
  const [category, setCategory] = useState("");
  const [priority, setPriority] = useState(100);
  const [isPublic, setPublic] = useState(false);
  const [topics, setTopics] = useState("");
  const [query, setQuery] = useState<RuleGroupType>(() => fromServiceRule(null));
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    const s = existing.data;
    if (!s) return;
    setName(s.name);
    setDescription(s.description ?? "");
    setType(s.type);
    setCategory(s.category ?? "");
    setPriority(s.priority);
    setPublic(s.public);
    setTopics(s.topics.join(", "));
    setQuery(fromServiceRule(s.rules));
  }, [existing.data]);

  const types = useMemo(() => Object.fromEntries((fields.data ?? []).map((f) => [f.name, f.type])), [fields.data]);
  const rules = useMemo(() => toServiceRule(query, types), [query, types]);
  const rulesKey = useDebounced(JSON.stringify(rules), 400);

  // Live count: the newest snapshot, nothing saved (POST /segments/preview), debounced.
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [change, setChange] = useState<Change | null>(null);
  const [changeMissing, setChangeMissing] = useState(false);
  useEffect(() => {
    if (type !== "dynamic" || rulesKey === "null") { setPreview(null); setChange(null); return; }
    let live = true;
    const body = { rules: JSON.parse(rulesKey) };
    api<Preview>("POST", "/segments/preview", { body: { ...body, sample_size: 0 } })
      .then((answer) => { if (live) { setPreview(answer); setPreviewError(null); } })
      .catch((error) => { if (live) { setPreview(null); setPreviewError(error); } });
    if (id && !changeMissing) {
      api<Change>("POST", `/segments/${id}/preview-change`, { body })
        .then((answer) => live && setChange(answer))
        .catch((error) => { if (live && error instanceof ApiError && error.routeMissing) setChangeMissing(true); });
    }
    return () => { live = false; };
  }, [rulesKey, type, id, changeMissing]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSaving(true);
    const draft = {
      name, description: description || null, type, category: category || null, priority, public: isPublic,
      topics: topics.split(",").map((t) => t.trim()).filter(Boolean),
      rules: type === "dynamic" ? rules : null,
    };
    try {
      const saved = existing.data
        ? await api<Segment>("PUT", `/segments/${existing.data.id}`, { body: draft, ifMatch: existing.data.version })
        : await api<Segment>("POST", "/segments", { body: draft });
      navigate(`/segments/${saved.id}`);
    } catch (error) {
      setSaveError(error);
    } finally {
      setSaving(false);
    }
  };

  const others = (segments.data ?? []).filter((s) => s.id !== id);
  return (
    <form className="editor" onSubmit={save} aria-label="Segment editor">
      <div className="toolbar">
        <h1>{id ? `Edit ${existing.data?.name ?? "segment"}` : "New segment"}</h1>
        <button type="submit" className="primary" disabled={saving}>Save</button>
      </div>
      <ErrorMessage error={existing.error ?? fields.error ?? saveError} />
      <div className="grid">
        <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} /></label>
        <label>Description<input value={description} onChange={(e) => setDescription(e.target.value)} /></label>
        <label>Segment type
          <select value={type} disabled={Boolean(id)} onChange={(e) => setType(e.target.value as "dynamic" | "static")}>
            <option value="dynamic">dynamic (rules)</option><option value="static">static (list)</option>
          </select>
        </label>
        <label>Category
          <select value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">none</option>
            {categories.data?.map((c) => <option key={c.name}>{c.name}</option>)}
          </select>
        </label>
        <label>Priority<input type="number" min={0} value={priority} onChange={(e) => setPriority(Number(e.target.value))} /></label>
        <label>Topics<input value={topics} placeholder="comma separated" onChange={(e) => setTopics(e.target.value)} /></label>
        <label className="check"><input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} /> Public (may be a campaign audience)</label>
      </div>
      {type === "dynamic" && (
        <section aria-label="Rules">
          <h2>Rules</h2>
          {fields.data && (
            <Suspense fallback={<p className="loading">Loading the rule builder…</p>}>
              <RuleBuilder fields={fields.data} segments={others} query={query} onChange={setQuery} />
            </Suspense>
          )}
          <p className="live-count">
            <output aria-live="polite" aria-label="Live count">
              {previewError ? "No count: the rule is not valid yet" : preview ? `${preview.count} contacts` : rules ? "Counting…" : "Add a condition to count contacts"}
            </output>
          </p>
          <ErrorMessage error={previewError} />
          {id && change && !changeMissing && (
            <section aria-label="Who would enter and leave" className="panel">
              <h3>If saved</h3>
              <p>{change.count_now} now → {change.count_after} after: <strong>{change.entering}</strong> would enter, <strong>{change.leaving}</strong> would leave.</p>
              {change.sample_entering?.length ? <p>Entering e.g.: {change.sample_entering.join(", ")}</p> : null}
              {change.sample_leaving?.length ? <p>Leaving e.g.: {change.sample_leaving.join(", ")}</p> : null}
            </section>
          )}
        </section>
      )}
    </form>
  );
}
