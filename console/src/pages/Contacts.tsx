import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api } from "../api";
import ErrorMessage from "../components/ErrorMessage";
import { useApi } from "../hooks";

type Contact = { contact_id: string; email?: string; first_name?: string; last_name?: string; country?: string; score?: number };

export default function Contacts() {
  const navigate = useNavigate();
  const [tokens, setTokens] = useState<Array<string | undefined>>([undefined]);
  const [lookup, setLookup] = useState("");
  const token = tokens[tokens.length - 1];
  const page = useApi(() => api<{ items: Contact[]; next_token?: string | null }>("GET", "/contacts", { query: { limit: 50, next_token: token } }), [token]);
  const open = (event: FormEvent) => {
    event.preventDefault();
    if (lookup.trim()) navigate(`/contacts/${encodeURIComponent(lookup.trim())}`);
  };
  return (
    <section>
      <h1>Contacts</h1>
      <form onSubmit={open} className="filters">
        <input type="search" aria-label="Contact id" placeholder="Open a contact by id" value={lookup} onChange={(e) => setLookup(e.target.value)} />
        <button type="submit">Open</button>
      </form>
      <ErrorMessage error={page.error} />
      <table className="list" aria-label="Contacts list">
        <thead><tr><th>Contact</th><th>Email</th><th>First name</th><th>Last name</th><th>Country</th><th className="num">Score</th></tr></thead>
        <tbody>{page.data?.items.map((c) => (
          <tr key={c.contact_id}>
            <td><Link to={`/contacts/${encodeURIComponent(c.contact_id)}`}>{c.contact_id}</Link></td>
            <td>{c.email ?? ""}</td><td>{c.first_name ?? ""}</td><td>{c.last_name ?? ""}</td><td>{c.country ?? ""}</td><td className="num">{c.score ?? ""}</td>
          </tr>
        ))}</tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={tokens.length < 2} onClick={() => setTokens(tokens.slice(0, -1))}>Previous page</button>
        <span>Page {tokens.length}</span>
        <button type="button" disabled={!page.data?.next_token} onClick={() => setTokens([...tokens, page.data!.next_token!])}>Next page</button>
      </div>
    </section>
  );
}
