import { useState, type FormEvent } from "react";
import { api, pollJob, type Job } from "../api";
import ErrorMessage from "./ErrorMessage";

const FORMATS = ["csv", "xlsx", "parquet", "jsonl", "audience_sha256"];

/** Start an export of one segment, follow the job, offer the download. */
export default function ExportForm({ segmentId }: { segmentId: string }) {
  const [format, setFormat] = useState("csv");
  const [fields, setFields] = useState("contact_id, email, first_name, last_name");
  const [addedSince, setAddedSince] = useState("");
  const [updatedSince, setUpdatedSince] = useState("");
  const [fileName, setFileName] = useState("");
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const start = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setJob(null);
    const body: Record<string, unknown> = { format };
    const list = fields.split(",").map((f) => f.trim()).filter(Boolean);
    if (list.length && format !== "audience_sha256") body.fields = list;
    if (addedSince) body.added_since = new Date(addedSince).toISOString();
    if (updatedSince) body.updated_since = new Date(updatedSince).toISOString();
    if (fileName) body.file_name = fileName;
    try {
      const queued = await api<Job>("POST", `/segments/${segmentId}/exports`, { body });
      setJob(queued);
      await pollJob(`/exports/${queued.job_id}`, setJob);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={start} className="panel" aria-label="Export">
      <div className="grid">
        <label>Format<select value={format} onChange={(e) => setFormat(e.target.value)}>{FORMATS.map((f) => <option key={f}>{f}</option>)}</select></label>
        <label>Fields<input value={fields} onChange={(e) => setFields(e.target.value)} /></label>
        <label>Added since<input type="date" value={addedSince} onChange={(e) => setAddedSince(e.target.value)} /></label>
        <label>Updated since<input type="date" value={updatedSince} onChange={(e) => setUpdatedSince(e.target.value)} /></label>
        <label>File name<input value={fileName} placeholder="optional" onChange={(e) => setFileName(e.target.value)} /></label>
      </div>
      <button type="submit" disabled={job?.status === "pending" || job?.status === "running"}>Start export</button>
      <ErrorMessage error={error} />
      {job && (
        <p role="status" className={`job ${job.status}`}>
          Export {job.status}
          {job.status === "pending" || job.status === "running" ? <progress aria-label="Export progress" /> : null}
          {job.row_count !== undefined && job.status === "succeeded" ? ` — ${job.row_count} rows ` : " "}
          {job.download_url && <a href={job.download_url} download>Download {job.file_name ?? "file"}</a>}
          {job.status === "failed" && ` — ${typeof job.error === "string" ? job.error : job.error?.message ?? "failed"}`}
        </p>
      )}
    </form>
  );
}
