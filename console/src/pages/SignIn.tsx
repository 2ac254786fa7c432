import { useState, type FormEvent } from "react";
import { setApiKey } from "../api";
import { whoAmI, type TenantInfo } from "../App";
import ErrorMessage from "../components/ErrorMessage";

export default function SignIn({ onSignedIn }: { onSignedIn: (tenant: TenantInfo) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setApiKey(key.trim());
    try {
      onSignedIn(await whoAmI());
    } catch (err) {
      setApiKey(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <h1>Segments console</h1>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required />
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
      <ErrorMessage error={error} />
      <p className="hint">The key stays in this browser tab (session storage) until you sign out.</p>
    </main>
  );
}
