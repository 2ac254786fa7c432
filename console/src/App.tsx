import { createContext, lazy, Suspense, useContext, useEffect, useState } from "react";
import { NavLink, Navigate, Route, Routes, useNavigate } from "react-router-dom";
import { api, apiKey, ApiError, setApiKey } from "./api";
import SignIn from "./pages/SignIn";
import SegmentsList from "./pages/SegmentsList";

const SegmentEditor = lazy(() => import("./pages/SegmentEditor"));
const SegmentPage = lazy(() => import("./pages/SegmentPage"));
const Contacts = lazy(() => import("./pages/Contacts"));
const ContactPage = lazy(() => import("./pages/ContactPage"));
const Imports = lazy(() => import("./pages/Imports"));
const Exports = lazy(() => import("./pages/Exports"));
const Settings = lazy(() => import("./pages/Settings"));

export type TenantInfo = { tenant_id: string; name: string; scopes: string[] };
const TenantContext = createContext<TenantInfo | null>(null);
export const useTenant = () => useContext(TenantContext);

/** Who the key belongs to; an API without GET /tenant still signs in (name unknown). */
export async function whoAmI(): Promise<TenantInfo> {
  try {
    return await api<TenantInfo>("GET", "/tenant");
  } catch (error) {
    if (error instanceof ApiError && error.routeMissing) {
      await api("GET", "/segments", { query: { limit: 1 } });
      return { tenant_id: "", name: "", scopes: [] };
    }
    throw error;
  }
}

export default function App() {
  const [tenant, setTenant] = useState<TenantInfo | null>(null);
  const [checking, setChecking] = useState(Boolean(apiKey()));
  const navigate = useNavigate();

  useEffect(() => {
    if (!apiKey()) return;
    whoAmI()
      .then(setTenant)
      .catch(() => setApiKey(null))
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <p className="loading">Loading…</p>;
  if (!tenant) return <SignIn onSignedIn={(info) => { setTenant(info); navigate("/segments"); }} />;

  const signOut = () => {
    setApiKey(null);
    setTenant(null);
    navigate("/");
  };
  return (
    <TenantContext.Provider value={tenant}>
      <header className="top">
        <strong className="brand">Segments</strong>
        <nav aria-label="Main">
          {["Segments", "Contacts", "Imports", "Exports", "Settings"].map((name) => (
            <NavLink key={name} to={`/${name.toLowerCase()}`}>{name}</NavLink>
          ))}
        </nav>
        <span className="tenant" aria-label="Tenant">{tenant.name || tenant.tenant_id}</span>
        <button type="button" onClick={signOut}>Sign out</button>
      </header>
      <main>
        <Suspense fallback={<p className="loading">Loading…</p>}>
          <Routes>
            <Route path="/" element={<Navigate to="/segments" replace />} />
            <Route path="/segments" element={<SegmentsList />} />
            <Route path="/segments/new" element={<SegmentEditor />} />
            <Route path="/segments/:id/edit" element={<SegmentEditor />} />
            <Route path="/segments/:id" element={<SegmentPage />} />
            <Route path="/contacts" element={<Contacts />} />
            <Route path="/contacts/:id" element={<ContactPage />} />
            <Route path="/imports" element={<Imports />} />
            <Route path="/exports" element={<Exports />} />
            <Route path="/settings" element={<Settings />} />
            <Route path="*" element={<p>No such page.</p>} />
          </Routes>
        </Suspense>
      </main>
    </TenantContext.Provider>
  );
}
