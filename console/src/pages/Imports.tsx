import { useState, type DragEvent, type FormEvent } from "react";
import { api, listAll, pollJob, type FieldDef, type Job, type Segment } from "../api";
import ErrorMessage from "../components/ErrorMessage";
import { useApi } from "../hooks";

const AUTO = "__auto__";

/** The header row of a CSV file (the mapping editor offers one choice per column). */
async function csvHeader(file: File): Promise<string[]> {
  const text = await file.slice(0, 64 * 1024).text();
  const line = text.replace(/^\uFEFF/, "").split(/\r?\n/)[0] ?? "";
  const separator = [",", ";", "\t"].reduce((best, sep) => (line.split(sep).length > line.split(best).length ? sep : best), ",");
  return line.split(separator).map((cell) => cell.trim().replace(/^"|"$/g, "")).filter(Boolean);
}

/** PUT the file to the presigned URL, reporting progress (fetch cannot report upload progress). */
function upload(url: string, file: File, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => (request.status < 300 ? resolve() : reject(new Error(`Upload refused (HTTP ${request.status}): ${request.responseText.slice(0, 200)}`)));
    request.onerror = () => reject(new Error("Upload failed: the storage URL could not be reached."));
    request.send(file);
  });
}

export default function Imports() {
  const fields = useApi(() => api<{ items: FieldDef[] }>("GET", "/fields").then((a) => a.items), []);
  const segments = useApi(() => listAll<Segment>("/segments", { type: "static" }), []);
  const [file, setFile] = useState<File | null>(null);
  const [columns, setColumns] = useState<string[]>([]);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [segmentId, setSegmentId] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [dragging, setDragging] = useState(false);

  const choose = async (chosen: File | undefined) => {
    if (!chosen) return;
    setFile(chosen);
    setJob(null);
    setProgress(null);
    const header = chosen.name.toLowerCase().endsWith(".csv") ? await csvHeader(chosen) : [];
    setColumns(header);
    setMapping(Object.fromEntries(header.map((column) => [column, AUTO])));
  };
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void choose(event.dataTransfer.files[0]);
  };
  const start = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setError(null);
    const explicit = Object.fromEntries(
      Object.entries(mapping).filter(([, field]) => field !== AUTO).map(([column, field]) => [column, field || null]),
    );
    try {
      const created = await api<{ job_id: string; upload_url: string }>("POST", "/imports", {
        body: { file_name: file.name, segment_id: segmentId || undefined, mapping: Object.keys(explicit).length ? explicit : undefined },
      });
      setProgress(0);
      await upload(created.upload_url, file, setProgress);
      setProgress(1);
      await pollJob(`/imports/${created.job_id}`, setJob);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <h1>Imports</h1>
      <form onSubmit={start} className="panel">
        <div className={`dropzone${dragging ? " over" : ""}`} onDragOver={(e) => { e.preventDefault(); setDragging(true); }} onDragLeave={() => setDragging(false)} onDrop={drop}>
          <p>Drop a lead list here (.csv, .xlsx, .xls, .parquet; spreadsheets and CSV up to 5 MB), or</p>
          <label>Lead list file<input type="file" accept=".csv,.xlsx,.xls,.parquet" onChange={(e) => void choose(e.target.files?.[0])} /></label>
          {file && <p>{file.name} — {(file.size / 1024).toFixed(1)} KB</p>}
        </div>
        <label>Add to static segment
          <select value={segmentId} onChange={(e) => setSegmentId(e.target.value)}>
            <option value="">none (contacts only)</option>
            {segments.data?.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </label>
        {columns.length > 0 && (
          <table className="list" aria-label="Column mapping">
            <thead><tr><th>Column</th><th>Field</th></tr></thead>
            <tbody>{columns.map((column) => (
              <tr key={column}>
                <td>{column}</td>
                <td>
                  <select aria-label={`Field for ${column}`} value={mapping[column]} onChange={(e) => setMapping({ ...mapping, [column]: e.target.value })}>
                    <option value={AUTO}>automatic (by name)</option>
                    <option value="">do not import</option>
                    {fields.data?.filter((f) => !f.read_only).map((f) => <option key={f.name} value={f.name}>{f.name} ({f.type})</option>)}
                  </select>
                </td>
              </tr>
            ))}</tbody>
          </table>
        )}
        <button type="submit" className="primary" disabled={!file || (progress !== null && !job)}>Upload and import</button>
      </form>
      <ErrorMessage error={error} />
      {progress !== null && (
        <p><label>Upload <progress aria-label="Upload progress" max={1} value={progress} /> {Math.round(progress * 100)}%</label></p>
      )}
      {job && (
        <div role="status" className={`job ${job.status}`}>
          <p>Import {job.status}</p>
          {job.rows_read !== undefined && <p>{job.rows_read} rows read, {job.rows_imported ?? 0} imported, {job.rows_rejected ?? 0} rejected{job.values_dropped ? `, ${job.values_dropped} values dropped` : ""}.</p>}
          {job.report_url && <p><a href={job.report_url} download>Download the report</a></p>}
          {job.status === "failed" && <p className="error">{typeof job.error === "string" ? job.error : job.error?.message ?? JSON.stringify(job.error)}</p>}
        </div>
      )}
    </section>
  );
}
