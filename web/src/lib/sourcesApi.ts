/**
 * A collection's sources as the Sources tab manages them (issue 23, SPEC §12): re-scan,
 * sync settings, columns and saved column sets, removal, several files uploaded at once,
 * and the documents list page by page.
 */
import type { Api } from "./api";
import type { AppStore } from "../storeTypes";
import type { ColumnChoice, DocumentRow, Operation, Page, Source, SourceSync } from "./types";

/** A saved column preference set of a collection (seed 002's document group). */
export interface ColumnSet extends ColumnChoice {
  name: string;
  saved_by: string;
  saved_at: string;
}

export interface SourceAndOperation {
  source: Source;
  operation: Operation;
}

/** One file of a multi-file upload: its source and operation, or why it was refused. */
export interface UploadedFile {
  filename: string;
  source: Source | null;
  operation: Operation | null;
  error: { status: number; code: string; detail: string } | null;
}

/** Rows of the Files tab per page. */
export const FILES_PAGE = 100;

const base = (collectionId: string) => `/api/v2/collections/${encodeURIComponent(collectionId)}`;
const sourcePath = (collectionId: string, sourceId: string) =>
  `${base(collectionId)}/sources/${encodeURIComponent(sourceId)}`;

/** Index the source again now: an `index` operation of that source alone (trigger
 * `user`, queued behind a running one), incremental (unchanged files are skipped). */
export async function rescan(api: Api, collectionId: string, sourceId: string): Promise<Operation> {
  const answer = await api.request<{ operation: Operation }>("POST", `${sourcePath(collectionId, sourceId)}/index`);
  return answer.operation;
}

/** New watch and schedule settings; no document changes (the answer's operation is null). */
export async function changeSync(api: Api, collectionId: string, sourceId: string, sync: SourceSync): Promise<Source> {
  const answer = await api.request<{ source: Source }>("PATCH", sourcePath(collectionId, sourceId), { sync });
  return answer.source;
}

/** New columns for a record source: its rows are embedded again, staged (202). */
export function changeColumns(
  api: Api,
  collectionId: string,
  sourceId: string,
  columns: ColumnChoice,
): Promise<{ source: Source; operation: Operation | null }> {
  return api.request("PATCH", sourcePath(collectionId, sourceId), columns);
}

/** Give sources the columns of a saved set: one `index` operation per source. */
export async function applyColumnSet(
  api: Api,
  collectionId: string,
  sourceIds: string[],
  columnSet: string,
): Promise<SourceAndOperation[]> {
  const answer = await api.request<{ items: SourceAndOperation[] }>("POST", `${base(collectionId)}/sources/reembed`, {
    source_ids: sourceIds,
    column_set: columnSet,
  });
  return answer.items;
}

export async function columnSets(api: Api, collectionId: string): Promise<ColumnSet[]> {
  const answer = await api.request<{ items: ColumnSet[] }>("GET", `${base(collectionId)}/column-sets`);
  return answer.items;
}

/** Save (or replace) the set `name`. */
export function saveColumnSet(api: Api, collectionId: string, name: string, columns: ColumnChoice): Promise<ColumnSet> {
  return api.request("POST", `${base(collectionId)}/column-sets`, { name, ...columns });
}

/** Upload several files in one request, each its own source (or an upload's next version
 * of a name the collection has, unless `keepVersions` keeps it a separate source), with
 * the columns given or those of the saved set `columnSet`. */
export async function uploadFiles(
  api: Api,
  collectionId: string,
  files: File[],
  columns: ColumnChoice,
  keepVersions: boolean,
  columnSet?: string,
): Promise<UploadedFile[]> {
  const form = new FormData();
  for (const file of files) form.append("file", file);
  if (columnSet) form.append("column_set", columnSet);
  else {
    for (const c of columns.text_columns) form.append("text_columns", c);
    for (const c of columns.context_columns) form.append("context_columns", c);
    if (columns.id_column) form.append("id_column", columns.id_column);
  }
  if (keepVersions) form.append("keep_versions", "true");
  const answer = await api.request<{ files: UploadedFile[] }>("POST", `${base(collectionId)}/sources/uploads`, form);
  return answer.files;
}

/** Process every failed document of the collection again: one `index` operation. */
export function retryFailed(api: Api, collectionId: string): Promise<Operation> {
  return api.request("POST", `${base(collectionId)}/documents/retry`);
}

/** One page of the collection's documents, from `offset`. */
export function documentsPage(
  api: Api,
  collectionId: string,
  offset: number,
  status?: string,
  limit = FILES_PAGE,
): Promise<Page<DocumentRow>> {
  const query = new URLSearchParams({ limit: String(limit), offset: String(offset) });
  if (status) query.set("status", status);
  return api.request("GET", `${base(collectionId)}/documents?${query.toString()}`);
}

export interface SourceTotals {
  documents: number;
  bytes: number;
}

/** Largest page the documents list answers. */
const MAX_PAGE = 500;
/** Pages read at most to count documents per source. */
const MAX_PAGES = 20;

/** Documents and bytes per source, counted over the documents list (at most
 * `MAX_PAGES` pages); `complete` is false when the collection holds more. */
export async function sourceTotals(
  api: Api,
  collectionId: string,
): Promise<{ totals: Record<string, SourceTotals>; complete: boolean }> {
  const totals: Record<string, SourceTotals> = {};
  const add = (rows: DocumentRow[]) => {
    for (const row of rows) {
      if (!row.source_id || row.status === "failed") continue;
      const t = (totals[row.source_id] ??= { documents: 0, bytes: 0 });
      t.documents += 1;
      t.bytes += row.size;
    }
  };
  const first = await documentsPage(api, collectionId, 0, undefined, MAX_PAGE);
  add(first.items);
  const pages = Math.min(Math.ceil(first.total / MAX_PAGE), MAX_PAGES);
  const rest = await Promise.all(
    Array.from({ length: Math.max(pages - 1, 0) }, (_, i) => documentsPage(api, collectionId, (i + 1) * MAX_PAGE, undefined, MAX_PAGE)),
  );
  for (const p of rest) add(p.items);
  return { totals, complete: first.total <= pages * MAX_PAGE };
}

/** The operation in the store, so the Operations tab and the queue show it at once. */
export function remember(store: AppStore, op: Operation | null | undefined): void {
  if (!op) return;
  store.setState((s) => ({ operations: { ...s.operations, [op.id]: op } }));
}
