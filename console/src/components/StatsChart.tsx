// Members over time with added and removed per day (recharts, loaded with the segment page).
import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export type Day = { date: string; added: number; removed: number; total: number };

/** Every day of [from, to]: days without changes carry the previous total forward. */
export function everyDay(days: Day[], from: string, to: string): Day[] {
  const known = new Map(days.map((d) => [d.date, d]));
  const first = days[0];
  let total = first ? first.total - first.added + first.removed : 0;
  const out: Day[] = [];
  for (let day = new Date(`${from}T00:00:00Z`); day <= new Date(`${to}T00:00:00Z`); day.setUTCDate(day.getUTCDate() + 1)) {
    const date = day.toISOString().slice(0, 10);
    const change = known.get(date);
    if (change) total = change.total;
    out.push(change ?? { date, added: 0, removed: 0, total });
  }
  return out;
}

export default function StatsChart({ days, from, to }: { days: Day[]; from: string; to: string }) {
  const data = everyDay(days, from, to).map((d) => ({ ...d, removed: -d.removed }));
  return (
    <figure className="chart" aria-label="Members over time">
      <ResponsiveContainer width="100%" height={260}>
        <ComposedChart data={data} margin={{ top: 10, right: 20, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="date" fontSize={12} />
          <YAxis yAxisId="change" fontSize={12} allowDecimals={false} />
          <YAxis yAxisId="total" orientation="right" fontSize={12} allowDecimals={false} />
          <Tooltip />
          <Legend />
          <Bar yAxisId="change" dataKey="added" name="added" fill="#2e7d32" isAnimationActive={false} />
          <Bar yAxisId="change" dataKey="removed" name="removed" fill="#c62828" isAnimationActive={false} />
          <Line yAxisId="total" dataKey="total" name="members" stroke="#1565c0" strokeWidth={2} dot={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
    </figure>
  );
}
