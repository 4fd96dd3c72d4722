/** The gateway's JSON shapes (SPEC §9), as the UI reads them. */

export type CollectionStatus =
  | "pending"
  | "ready"
  | "processing"
  | "reindexing"
  | "degraded"
  | "error";
export type OperationStatus = "queued" | "pending" | "processing" | "completed" | "failed" | "cancelled";
export type SearchMode = "hybrid" | "dense" | "sparse";

export interface Collection {
  id: string;
  name: string;
  description: string;
  owner: string;
  model_name: string;
  model_dimension: number;
  status: CollectionStatus;
  status_reason?: string;
  chunk_size: number;
  chunk_overlap: number;
  document_count: number;
  chunk_count: number;
  vector_count: number;
  size_bytes?: number;
  active_generation: number | null;
  /** What the searched vectors were encoded in (fp32, int8, …); null before any. */
  embed_precision?: string | null;
  active_operation_id?: string | null;
  /** The caller's role; a gateway without access control leaves it out (the owner). */
  my_role?: Role;
  created_at: string;
  updated_at: string;
}

export interface Failure {
  path: string;
  reason: string;
}

export interface Operation {
  id: string;
  collection_id: string;
  type: string;
  status: OperationStatus;
  /** While queued: its place in the collection's queue, 1 = next. */
  queue_position?: number | null;
  /** What started it: a person, the source's watcher or its schedule. */
  trigger?: "user" | "watch" | "schedule";
  progress: number;
  processed: number;
  total: number;
  skipped: number;
  failed: number;
  message: string;
  error: string | null;
  failures: Failure[];
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

export interface Source {
  id: string;
  collection_id: string;
  kind: "directory" | "file" | "upload";
  path: string;
  text_columns: string[];
  context_columns: string[];
  id_column: string | null;
  created_at: string;
  /** Watch and schedule (SPEC §12); older gateways leave it out (off). */
  sync?: SourceSync;
  sync_status?: SyncStatus;
  sync_reason?: string;
  last_sync_at?: string | null;
  next_sync_at?: string | null;
  /** An upload's versions, oldest first; the last is the one indexed. */
  versions?: SourceVersion[];
}

export interface SourceSync {
  watch: boolean;
  interval_minutes: number | null;
}

export type SyncStatus = "off" | "pending" | "active" | "stopped";

export interface SourceVersion {
  version: number;
  size: number;
  uploaded_at: string;
}

export interface DocumentRow {
  id: string | null;
  path: string;
  source_id: string | null;
  status: "pending" | "indexed" | "failed";
  reason: string;
  size: number;
  chunk_count: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** Character offsets `[start, end)` into a text, as the server counts them (code points). */
export type Span = [number, number];

/** The raw values behind a result's place (search with `explain: true`). */
export interface Explain {
  dense: number | null;
  sparse: number | null;
  fused: number;
  rank_in_collection: number;
  rerank: number | null;
}

export interface SearchResult {
  collection_id: string;
  document_id: string;
  chunk_id: string;
  path: string;
  text: string;
  /** A relevance a person can compare; null where the search has none to show. */
  score: number | null;
  rank: number;
  metadata: Record<string, unknown>;
  highlights?: Span[];
  /** The best window of `text` (at most about 300 characters around the densest matches). */
  snippet?: string;
  /** Its offset in `text`. */
  snippet_start?: number;
  /** The query's terms, as offsets into `snippet`. */
  snippet_highlights?: Span[];
  explain?: Explain | null;
}

/** A filter's value; a facet names each value as text ("true", "2021"), which the server
 * matches as the bool or number it spells as well. */
export type FacetScalar = string | number | boolean;

/** A facet's values (as text) and how many candidate documents have each, most first. */
export type FacetCounts = Record<string, number>;

export interface SearchResponse {
  results: SearchResult[];
  warnings: string[];
  partial: boolean;
  took_ms: number;
  offset?: number;
  has_more?: boolean;
  facets?: Record<string, FacetCounts>;
}

export interface ChunkSpan {
  index: number;
  start: number;
  end: number;
}

/** `GET /api/v2/collections/{id}/documents/{document_id}`. */
export interface DocumentDetail {
  id: string;
  collection_id: string;
  source_id: string | null;
  path: string;
  file_type: string;
  mime: string;
  size: number;
  status: "pending" | "indexed" | "failed";
  chunk_count: number;
  text: string;
  chunks: ChunkSpan[];
  truncated: boolean;
  /** A record's `columns`, `record_id`, `row` and `file`. */
  metadata: Record<string, unknown>;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
}

export interface SourcePreview {
  path: string;
  kind: "directory" | "file" | "upload";
  columns: string[];
}

export interface ColumnChoice {
  text_columns: string[];
  context_columns: string[];
  id_column: string | null;
}

/** What the caller may do on a collection (SPEC §11): viewer < editor < owner. */
export type Role = "owner" | "editor" | "viewer";
export type GrantRole = Exclude<Role, "owner">;
export type PrincipalType = "user" | "team";

export interface TeamRef {
  id: string;
  name: string;
}

export interface Me {
  id: string;
  username: string;
  email?: string | null;
  is_admin: boolean;
  teams: TeamRef[];
  created_at?: string;
}

export type RegistrationMode = "closed" | "invite" | "open";

export interface Registration {
  mode: RegistrationMode;
  first_account: boolean;
}

export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  is_admin: boolean;
  disabled: boolean;
  /** The CLI's local account: an admin that is no person (no actions, not a member). */
  operator?: boolean;
  created_at: string;
}

export interface Team {
  id: string;
  name: string;
  members: { id: string; username: string }[];
}

export interface Invite {
  code: string;
  expires_at: string | null;
}

export interface SourceRoot {
  id: string;
  path: string;
  user_id: string | null;
  team_id: string | null;
  created_at: string;
}

export type Scope = "search" | "read" | "write";

export interface ApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  collection_ids: string[] | null;
  expires_at: string | null;
  created_at: string;
}

export interface NewApiKey extends ApiKey {
  key: string;
}

export interface Grant {
  principal_type: PrincipalType;
  principal_id: string;
  /** null when the principal is gone. */
  principal_name: string | null;
  role: GrantRole;
}

export interface Access {
  collection_id: string;
  owner: string;
  owner_name: string | null;
  grants: Grant[];
}

export interface Directory {
  users: { id: string; username: string }[];
  teams: TeamRef[];
}

/** A webhook of its owner (SPEC §13); `deactivated_reason` is set when Semantik
 * deactivated it after failing too long, null when its owner paused it. */
export interface Webhook {
  id: string;
  url: string;
  /** Event type names, or `["*"]` for every event. */
  events: string[];
  /** null: every collection the owner may read. */
  collection_ids: string[] | null;
  description: string;
  active: boolean;
  created_at: string;
  failing_since: string | null;
  deactivated_reason: string | null;
  last_delivery_at: string | null;
}

export interface NewWebhook extends Webhook {
  /** The signing secret ("whsec_…"), in the answer to its creation only. */
  secret: string;
}

export type DeliveryStatus = "pending" | "retrying" | "delivered" | "failed" | "skipped";

export interface Delivery {
  event_id: string;
  event_type: string;
  collection_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  next_attempt_at: string | null;
}
