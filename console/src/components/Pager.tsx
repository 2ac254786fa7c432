import { useState } from "react";
import { api } from "../api";
import { useApi } from "../hooks";

type Page<T> = { items: T[]; next_token?: string | null };

/** One page of a list route at a time; the tokens of the pages before it allow going back. */
export function usePages<T>(path: string, limit = 50) {
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const token = tokens[tokens.length - 1];
  const page = useApi(() => api<Page<T>>("GET", path, { query: { limit, next_token: token } }), [path, token]);
  const back = tokens.length > 1 ? () => setTokens(tokens.slice(0, -1)) : null;
  const next = page.data?.next_token;
  const forward = next ? () => setTokens([...tokens, next]) : null;
  return { page, number: tokens.length, back, forward };
}

export default function Pager({ number, back, forward }: { number: number; back: (() => void) | null; forward: (() => void) | null }) {
  return (
    <div className="pager">
      <button type="button" disabled={!back} onClick={() => back?.()}>Previous page</button>
      <span>Page {number}</span>
      <button type="button" disabled={!forward} onClick={() => forward?.()}>Next page</button>
    </div>
  );
}
