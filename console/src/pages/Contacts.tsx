import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import ErrorMessage from "../components/ErrorMessage";
import Pager, { usePages } from "../components/Pager";

type Contact = { contact_id: string; email?: string; first_name?: string; last_name?: string; country?: string; score?: number };

export default function Contacts() {
  const navigate = useNavigate();
  const [lookup, setLookup] = useState("");
  const pages = usePages<Contact>("/contacts");
  const page = pages.page;
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
      <Pager {...pages} />
    </section>
  );
}
