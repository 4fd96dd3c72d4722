/**
 * The gateway's HTTP API with the session's access token. A request refused with 401
 * renews the access token once and is sent again (as the CLI client does); when renewal
 * fails the session is over and `onSignedOut` runs.
 *
 * The refresh token never reaches this code's storage: the gateway keeps it in an
 * httpOnly, SameSite=Strict cookie scoped to `/api/v1/auth` (set at login, rotated by
 * each refresh, cleared by logout), which the browser sends to refresh and logout by
 * itself. The access token is held in memory only, so a reload renews it first.
 */
import type {
  Access,
  ApiKey,
  Collection,
  Delivery,
  Directory,
  GrantRole,
  Invite,
  Me,
  NewApiKey,
  NewWebhook,
  PrincipalType,
  Registration,
  RegistrationMode,
  Scope,
  SourceRoot,
  Team,
  UserRow,
  Webhook,
  ColumnChoice,
  DocumentRow,
  Operation,
  Page,
  Source,
  SourcePreview,
} from "./types";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The message a user can act on, from FastAPI's `detail` (a string or a 422 list). */
export function describeError(body: unknown, status: number): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => {
        const field = (d.loc ?? []).slice(1).join(".");
        return field ? `${field}: ${d.msg ?? "invalid"}` : (d.msg ?? "invalid");
      })
      .join("; ");
  }
  if (typeof detail === "string" && detail) return detail;
  if (status === 429) return "too many requests, try again in a moment";
  return `request failed (${status})`;
}

export interface SessionHooks {
  accessToken(): string | null;
  setAccessToken(token: string | null): void;
  onSignedOut(): void;
}

/** Sends the refresh cookie: it is the page's own origin, never another one. */
const WITH_COOKIE: RequestInit = { method: "POST", credentials: "same-origin" };

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface RegisterExtras {
  email?: string;
  invite_code?: string;
}

export class Api {
  private renewing: Promise<boolean> | null = null;

  constructor(
    private readonly session: SessionHooks,
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
  ) {}

  /** Sign in (registering first when asked); the access token goes to the session, the
   * refresh token stays in the cookie the gateway set. */
  async signIn(username: string, password: string, register: boolean | RegisterExtras): Promise<void> {
    const body = JSON.stringify({ username, password });
    const headers = { "Content-Type": "application/json" };
    if (register) {
      const given: RegisterExtras = register === true ? {} : register;
      const extras: RegisterExtras = {};
      if (given.email?.trim()) extras.email = given.email.trim();
      if (given.invite_code?.trim()) extras.invite_code = given.invite_code.trim();
      const r = await this.fetcher("/api/v1/auth/register", {
        method: "POST",
        headers,
        body: JSON.stringify({ username, password, ...extras }),
      });
      if (!r.ok) throw new ApiError(describeError(await json(r), r.status), r.status);
    }
    const r = await this.fetcher("/api/v1/auth/login", { ...WITH_COOKIE, headers, body });
    if (!r.ok) throw new ApiError(describeError(await json(r), r.status), r.status);
    this.session.setAccessToken(((await r.json()) as { access_token: string }).access_token);
  }

  /** End the session of the cookie (the gateway clears it) and forget the access token. */
  async signOut(): Promise<void> {
    this.session.setAccessToken(null);
    await this.fetcher("/api/v1/auth/logout", WITH_COOKIE).catch(() => undefined);
  }

  /** A fresh access token for the cookie's session (which rotates); one at a time. */
  renew(): Promise<boolean> {
    this.renewing ??= this.doRenew().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async doRenew(): Promise<boolean> {
    const r = await this.fetcher("/api/v1/auth/refresh", WITH_COOKIE);
    if (!r.ok) return false;
    const pair = (await json(r)) as { access_token?: unknown } | null;
    if (typeof pair?.access_token !== "string") return false;
    this.session.setAccessToken(pair.access_token);
    return true;
  }

  /** The answer to an authorized request, whatever its status or body (a 401 renews the
   * access token once and sends it again; a second ends the session). */
  async send(method: string, path: string, body?: unknown, retried = false): Promise<Response> {
    const headers: Record<string, string> = {};
    const access = this.session.accessToken();
    if (access) headers.Authorization = `Bearer ${access}`;
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const r = await this.fetcher(path, { method, headers, body: payload });
    if (r.status === 401 && !retried && (await this.renew())) {
      return this.send(method, path, body, true);
    }
    if (r.status === 401) {
      this.session.setAccessToken(null);
      this.session.onSignedOut();
      throw new ApiError("your session has ended, please sign in again", 401);
    }
    return r;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.send(method, path, body);
    const data = r.status === 204 ? null : await json(r);
    if (!r.ok) throw new ApiError(describeError(data, r.status), r.status);
    return data as T;
  }

  me(): Promise<Me> {
    return this.request("GET", "/api/v1/auth/me");
  }

  /** Whether (and how) accounts may be created; asked before signing in. */
  async registration(): Promise<Registration> {
    const r = await this.fetcher("/api/v1/auth/registration", { method: "GET" });
    if (!r.ok) throw new ApiError(describeError(await json(r), r.status), r.status);
    return (await r.json()) as Registration;
  }

  setRegistration(mode: RegistrationMode): Promise<Registration> {
    return this.request("PUT", "/api/v1/auth/registration", { mode });
  }

  users(): Promise<UserRow[]> {
    return this.request("GET", "/api/v1/users");
  }

  createUser(body: { username: string; password: string; is_admin: boolean }): Promise<UserRow> {
    return this.request("POST", "/api/v1/users", body);
  }

  updateUser(id: string, body: { is_admin?: boolean; disabled?: boolean; password?: string }): Promise<UserRow> {
    return this.request("PATCH", `/api/v1/users/${id}`, body);
  }

  createInvite(expiresInHours?: number): Promise<Invite> {
    return this.request("POST", "/api/v1/invites", expiresInHours === undefined ? {} : { expires_in_hours: expiresInHours });
  }

  teams(): Promise<Team[]> {
    return this.request("GET", "/api/v1/teams");
  }

  createTeam(name: string): Promise<Team> {
    return this.request("POST", "/api/v1/teams", { name });
  }

  addTeamMember(teamId: string, userId: string): Promise<Team> {
    return this.request("POST", `/api/v1/teams/${teamId}/members`, { user_id: userId });
  }

  removeTeamMember(teamId: string, userId: string): Promise<null> {
    return this.request("DELETE", `/api/v1/teams/${teamId}/members/${userId}`);
  }

  directory(): Promise<Directory> {
    return this.request("GET", "/api/v1/directory");
  }

  sourceRoots(): Promise<SourceRoot[]> {
    return this.request("GET", "/api/v1/source-roots");
  }

  grantSourceRoot(body: { path: string; user_id?: string; team_id?: string }): Promise<SourceRoot> {
    return this.request("POST", "/api/v1/source-roots", body);
  }

  deleteSourceRoot(id: string): Promise<null> {
    return this.request("DELETE", `/api/v1/source-roots/${id}`);
  }

  apiKeys(): Promise<ApiKey[]> {
    return this.request("GET", "/api/v1/api-keys");
  }

  createApiKey(body: {
    name: string;
    scopes: Scope[];
    collection_ids?: string[] | null;
    expires_in_days?: number | null;
  }): Promise<NewApiKey> {
    return this.request("POST", "/api/v1/api-keys", body);
  }

  deleteApiKey(id: string): Promise<null> {
    return this.request("DELETE", `/api/v1/api-keys/${id}`);
  }

  webhooks(): Promise<Webhook[]> {
    return this.request("GET", "/api/v2/webhooks");
  }

  createWebhook(body: {
    url: string;
    events: string[];
    collection_ids?: string[] | null;
    description?: string;
  }): Promise<NewWebhook> {
    return this.request("POST", "/api/v2/webhooks", body);
  }

  /** Pause or activate; activating clears the failure state. */
  setWebhookActive(id: string, active: boolean): Promise<Webhook> {
    return this.request("PATCH", `/api/v2/webhooks/${id}`, { active });
  }

  deleteWebhook(id: string): Promise<null> {
    return this.request("DELETE", `/api/v2/webhooks/${id}`);
  }

  webhookDeliveries(id: string, limit = 50): Promise<Delivery[]> {
    return this.request("GET", `/api/v2/webhooks/${id}/deliveries?limit=${limit}`);
  }

  /** The AsyncAPI document of the bus (its events are what a webhook may ask for). */
  asyncapi(): Promise<unknown> {
    return this.request("GET", "/api/asyncapi.json");
  }

  access(collectionId: string): Promise<Access> {
    return this.request("GET", `/api/v2/collections/${collectionId}/access`);
  }

  grant(collectionId: string, type: PrincipalType, principalId: string, role: GrantRole): Promise<Access> {
    return this.request("PUT", `/api/v2/collections/${collectionId}/access/${type}/${principalId}`, { role });
  }

  revoke(collectionId: string, type: PrincipalType, principalId: string): Promise<null> {
    return this.request("DELETE", `/api/v2/collections/${collectionId}/access/${type}/${principalId}`);
  }

  updateCollection(id: string, body: { name?: string; description?: string }): Promise<Collection> {
    return this.request("PATCH", `/api/v2/collections/${id}`, body);
  }

  removeSource(collectionId: string, sourceId: string): Promise<{ operation: Operation }> {
    return this.request("DELETE", `/api/v2/collections/${collectionId}/sources/${sourceId}`);
  }

  collections(): Promise<Page<Collection>> {
    return this.request("GET", "/api/v2/collections?limit=500");
  }

  collection(id: string): Promise<Collection> {
    return this.request("GET", `/api/v2/collections/${id}`);
  }

  createCollection(body: {
    name: string;
    description?: string;
    model_name?: string;
    chunk_size?: number;
    chunk_overlap?: number;
  }): Promise<Collection> {
    return this.request("POST", "/api/v2/collections", body);
  }

  deleteCollection(id: string): Promise<null> {
    return this.request("DELETE", `/api/v2/collections/${id}`);
  }

  addPath(id: string, path: string, columns: ColumnChoice): Promise<{ operation: Operation }> {
    return this.request("POST", `/api/v2/collections/${id}/sources`, { path, ...columns });
  }

  upload(id: string, file: File, columns: ColumnChoice): Promise<{ operation: Operation }> {
    const form = new FormData();
    form.append("file", file);
    for (const c of columns.text_columns) form.append("text_columns", c);
    for (const c of columns.context_columns) form.append("context_columns", c);
    if (columns.id_column) form.append("id_column", columns.id_column);
    return this.request("POST", `/api/v2/collections/${id}/sources/upload`, form);
  }

  /** What adding `path` would find (its kind, a table's columns), without adding it. */
  previewSource(id: string, path: string): Promise<SourcePreview> {
    return this.request("POST", `/api/v2/collections/${id}/sources/preview`, { path });
  }

  sources(id: string): Promise<{ items: Source[] }> {
    return this.request("GET", `/api/v2/collections/${id}/sources`);
  }

  documents(id: string, status?: string): Promise<Page<DocumentRow>> {
    const filter = status ? `&status=${status}` : "";
    return this.request("GET", `/api/v2/collections/${id}/documents?limit=500${filter}`);
  }

  operations(id: string): Promise<Page<Operation>> {
    return this.request("GET", `/api/v2/collections/${id}/operations?limit=100`);
  }

  activeOperations(): Promise<Page<Operation>> {
    return this.request("GET", "/api/v2/operations?status=processing&limit=500");
  }

  pendingOperations(): Promise<Page<Operation>> {
    return this.request("GET", "/api/v2/operations?status=pending&limit=500");
  }

  startIndex(id: string): Promise<Operation> {
    return this.request("POST", `/api/v2/collections/${id}/operations/index`);
  }

  reindex(
    id: string,
    body: { model_name?: string; chunk_size?: number; chunk_overlap?: number },
  ): Promise<Operation> {
    return this.request("POST", `/api/v2/collections/${id}/operations/reindex`, body);
  }

  cancel(operationId: string): Promise<Operation> {
    return this.request("POST", `/api/v2/operations/${operationId}/cancel`);
  }
}

/** The body of an answer as JSON, or null when it is none. */
export async function json(r: Response): Promise<unknown> {
  try {
    return await r.json();
  } catch {
    return null;
  }
}
