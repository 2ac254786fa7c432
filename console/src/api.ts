// The only way the console talks to the service: its public REST API, with the user's API key.

const KEY_STORAGE = "segments.apiKey";

export type Detail = { path: string; message: string };

/** An answer that is not 2xx, carrying the service's error shape (SPEC §3). */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: Detail[] = [],
  ) {
    super(message);
  }

  /** The route does not exist on this deployment (an older API): hide the panel that needs it. */
  get routeMissing(): boolean {
    return (this.status === 404 || this.status === 405) && this.code !== "not_found";
  }

  /** One sentence a person can read, with the offending fields. */
  get readable(): string {
    const detail = this.details.map((d) => `${d.path}: ${d.message}`).join("; ");
    return `${this.message}${detail ? ` (${detail})` : ""} [HTTP ${this.status}]`;
  }
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

let base: Promise<string> | null = null;

/** The API's base URL: config.json next to index.html when deployed, else this origin. */
export function apiBase(): Promise<string> {
  base ??= fetch(`${import.meta.env.BASE_URL}config.json`)
    .then((answer) => (answer.ok ? answer.json() : {}))
    .then((config: { apiUrl?: string }) => (config.apiUrl ?? "").replace(/\/$/, ""))
    .catch(() => "");
  return base;
}

type Options = { body?: unknown; ifMatch?: number; query?: Record<string, string | number | boolean | undefined> };

export async function api<T = any>(method: string, path: string, options: Options = {}): Promise<T> {
  const headers: Record<string, string> = { "X-Api-Key": apiKey() ?? "" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.ifMatch !== undefined) headers["If-Match"] = String(options.ifMatch);
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== "") query.set(name, String(value));
  }
  const url = `${await apiBase()}${path}${query.size ? `?${query}` : ""}`;
  let answer: Response;
  try {
    answer = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, "network", "The API could not be reached. Check your connection and try again.");
  }
  const text = await answer.text();
  let payload: any = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!answer.ok) {
    const error = payload?.error;
    throw new ApiError(
      answer.status,
      error?.code ?? "http_error",
      error?.message ?? payload?.message ?? answer.statusText ?? "Request failed",
      Array.isArray(error?.details) ? error.details : [],
    );
  }
  return payload as T;
}

/** Every item of a paginated list (follows next_token). */
export async function listAll<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined;
  do {
    const page = await api<{ items: T[]; next_token?: string | null }>("GET", path, {
      query: { ...query, limit: 500, next_token: next },
    });
    items.push(...page.items);
    next = page.next_token ?? undefined;
  } while (next);
  return items;
}

export type Job = {
  job_id: string;
  status: "pending" | "running" | "succeeded" | "failed";
  error?: string | { message?: string };
  [key: string]: any;
};

/** Poll a job until it succeeds or fails; `onUpdate` sees every state. */
export async function pollJob(path: string, onUpdate: (job: Job) => void, intervalMs = 500): Promise<Job> {
  for (;;) {
    const job = await api<Job>("GET", path);
    onUpdate(job);
    if (job.status === "succeeded" || job.status === "failed") return job;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export type Segment = {
  id: string;
  name: string;
  description?: string | null;
  type: "static" | "dynamic";
  rules?: Record<string, any> | null;
  category?: string | null;
  priority: number;
  public: boolean;
  topics: string[];
  version: number;
  member_count: number;
  last_evaluated_at?: string | null;
  evaluation_status?: string | null;
  evaluation_error?: string | null;
  created_at: string;
  updated_at: string;
};

export type FieldDef = { name: string; type: string; builtin: boolean; read_only?: boolean; label?: string | null };

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.readable;
  return error instanceof Error ? error.message : String(error);
}
