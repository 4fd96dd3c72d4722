import { useEffect, useState } from "react";
import { useAppStore } from "../context";
import { RouteLink } from "../components/RouteLink";
import { message } from "../lib/action";
import { canEdit } from "../lib/roles";
import { documentsPage, FILES_PAGE, remember, retryFailed } from "../lib/sourcesApi";
import { queueText } from "../lib/queue";
import { formatBytes, formatCount } from "../lib/text";
import type { Collection, DocumentRow, Operation } from "../lib/types";

/** How often a page showing pending documents is read again. */
export const PENDING_REFRESH_MS = 2000;

/** The collection's documents, a page at a time, however many there are. */
export function FilesTab({ collection: c }: { collection: Collection }) {
  const store = useAppStore();
  const [status, setStatus] = useState("");
  const [offset, setOffset] = useState(0);
  const [rows, setRows] = useState<DocumentRow[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [retry, setRetry] = useState<Operation | null>(null);
  // Bumped to read the page again while it shows pending documents: the ingest service
  // marks a document indexed on its own, possibly after the collection's last change.
  const [tick, setTick] = useState(0);
  async function retryAll() {
    setError(null);
    try {
      const op = await retryFailed(store.api, c.id);
      remember(store, op);
      setRetry(op);
    } catch (e) {
      setError(message(e));
    }
  }
  useEffect(() => {
    let current = true;
    documentsPage(store.api, c.id, offset, status || undefined)
      .then((page) => {
        if (!current) return;
        setRows(page.items);
        setTotal(page.total);
        setError(null);
      })
      .catch((e: unknown) => current && setError(message(e)));
    return () => {
      current = false;
    };
  }, [c.id, c.document_count, c.status, c.updated_at, status, offset, store, tick]);
  useEffect(() => {
    if (!rows?.some((d) => d.status === "pending")) return;
    const timer = setTimeout(() => setTick((n) => n + 1), PENDING_REFRESH_MS);
    return () => clearTimeout(timer);
  }, [rows]);
  const last = Math.min(offset + (rows?.length ?? 0), total);
  return (
    <>
      <div className="toolbar">
        <label>
          Show
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setOffset(0);
            }}
          >
            <option value="">All documents</option>
            <option value="indexed">Indexed</option>
            <option value="pending">Pending</option>
            <option value="failed">Failed</option>
          </select>
        </label>
        {rows && rows.length > 0 && (
          <span className="muted" role="status">
            {formatCount(offset + 1)}–{formatCount(last)} of {formatCount(total)}
          </span>
        )}
      </div>
      {canEdit(c) && status === "failed" && total > 0 && (
        <p>
          <button type="button" disabled={retry !== null} onClick={() => void retryAll()}>
            Retry failed documents
          </button>{" "}
          {retry && <span className="muted">Retry: {retry.status === "queued" ? queueText(retry) : retry.status}</span>}
        </p>
      )}
      {error && <p className="notice notice-error">{error}</p>}
      {rows && rows.length === 0 && <p className="muted">No documents{status ? ` with status ${status}` : ""}.</p>}
      {rows && rows.length > 0 && (
        <div className="table-scroll">
          <table className="files">
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col">Status</th>
                <th scope="col">Chunks</th>
                <th scope="col">Size</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={`${d.path}:${d.id ?? ""}`} className={`doc-${d.status}`}>
                  <td className="mono">
                    {d.id && d.status === "indexed" ? (
                      <RouteLink route={{ name: "document", id: c.id, documentId: d.id, chunk: null }}>{d.path}</RouteLink>
                    ) : (
                      d.path
                    )}
                  </td>
                  <td><span className={`badge badge-${d.status}`}>{d.status}</span></td>
                  <td>{d.chunk_count}</td>
                  <td>{formatBytes(d.size)}</td>
                  <td>{d.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {total > FILES_PAGE && (
        <nav className="pager" aria-label="Pages of files">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(0)}>
            First
          </button>
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(offset - FILES_PAGE, 0))}>
            Previous
          </button>
          <span className="muted">
            Page {Math.floor(offset / FILES_PAGE) + 1} of {Math.ceil(total / FILES_PAGE)}
          </span>
          <button type="button" disabled={offset + FILES_PAGE >= total} onClick={() => setOffset(offset + FILES_PAGE)}>
            Next
          </button>
          <button type="button" disabled={offset + FILES_PAGE >= total} onClick={() => setOffset((Math.ceil(total / FILES_PAGE) - 1) * FILES_PAGE)}>
            Last
          </button>
        </nav>
      )}
    </>
  );
}
