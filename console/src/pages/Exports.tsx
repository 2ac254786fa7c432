import { useState } from "react";
import { listAll, type Segment } from "../api";
import ErrorMessage from "../components/ErrorMessage";
import ExportForm from "../components/ExportForm";
import { useApi } from "../hooks";

export default function Exports() {
  const segments = useApi(() => listAll<Segment>("/segments"), []);
  const [segmentId, setSegmentId] = useState("");
  return (
    <section>
      <h1>Exports</h1>
      <ErrorMessage error={segments.error} />
      <label>Segment to export
        <select value={segmentId} onChange={(e) => setSegmentId(e.target.value)}>
          <option value="">choose…</option>
          {segments.data?.map((s) => <option key={s.id} value={s.id}>{s.name} ({s.member_count})</option>)}
        </select>
      </label>
      {segmentId && <ExportForm key={segmentId} segmentId={segmentId} />}
    </section>
  );
}
