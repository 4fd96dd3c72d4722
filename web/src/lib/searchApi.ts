/**
 * Search and the document behind a result (issue 26): one page of a search with its
 * facets and explanations, a document's text and chunks, and its original file.
 */
import { ApiError, describeError, json, type Api } from "./api";
import type { DocumentDetail, FacetScalar, SearchMode, SearchResponse } from "./types";

/** A filter value: one value, or any of a list. */
export type FilterValue = FacetScalar | FacetScalar[];

export interface SearchParams {
  query: string;
  collection_ids: string[];
  search_type: SearchMode;
  rerank: boolean;
  limit?: number;
  offset?: number;
  explain?: boolean;
  facets?: string[];
  filters?: Record<string, FilterValue>;
}

/** Results on a page of the search screen. */
export const PAGE_SIZE = 10;

/** One page of a federated search. Empty options are left out of the body. */
export function search(api: Api, params: SearchParams): Promise<SearchResponse> {
  const body: Record<string, unknown> = { limit: PAGE_SIZE, ...params };
  if (!params.offset) delete body.offset;
  if (!params.explain) delete body.explain;
  if (!params.facets?.length) delete body.facets;
  if (!params.filters || Object.keys(params.filters).length === 0) delete body.filters;
  return api.request("POST", "/api/v2/search", body);
}

function documentPath(collectionId: string, documentId: string): string {
  return `/api/v2/collections/${encodeURIComponent(collectionId)}/documents/${encodeURIComponent(documentId)}`;
}

/** Where a document's original file is served (an attachment). */
export function contentPath(collectionId: string, documentId: string): string {
  return `${documentPath(collectionId, documentId)}/content`;
}

export function getDocument(api: Api, collectionId: string, documentId: string): Promise<DocumentDetail> {
  return api.request("GET", documentPath(collectionId, documentId));
}

/** The file name of a `Content-Disposition` header (RFC 6266: `filename*` first). */
export function attachmentName(header: string | null, fallback: string): string {
  if (header) {
    const extended = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(header);
    if (extended) {
      try {
        return decodeURIComponent(extended[1].trim());
      } catch {
        // a malformed escape: try the plain name
      }
    }
    const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)/i.exec(header);
    if (plain) return (plain[2] ?? plain[1]).replace(/\\(.)/g, "$1").trim();
  }
  return fallback;
}

/** The original file, fetched with the session's token (a plain link would carry none). */
export async function downloadOriginal(
  api: Api,
  collectionId: string,
  documentId: string,
  fallbackName: string,
): Promise<{ blob: Blob; name: string }> {
  const r = await api.send("GET", contentPath(collectionId, documentId));
  if (!r.ok) throw new ApiError(describeError(await json(r), r.status), r.status);
  return { blob: await r.blob(), name: attachmentName(r.headers.get("Content-Disposition"), fallbackName) };
}
