/**
 * One document as a person reads it: its metadata, a record's columns, the extracted
 * text cut at its chunk boundaries, scrolled to (and marking) the chunk a search result
 * opened it at, and its original file to download.
 */
import { useEffect, useRef, useState } from "react";
import { useApp, useAppStore } from "../context";
import { Notice, Table } from "../components/bits";
import { RouteLink } from "../components/RouteLink";
import { markUnits, normalize, spansWithin, unitOffsets, type Segment } from "../lib/marks";
import { contentPath, downloadOriginal, getDocument } from "../lib/searchApi";
import { formatBytes, formatCount } from "../lib/text";
import type { DocumentDetail, SearchResult, Span } from "../lib/types";

interface Block {
  index: number;
  /** Line breaks that open the chunk (the gap after the one before), not shown. */
  gap: string;
  segments: Segment[];
}

/** The text cut into one block per chunk (a chunk's overlap with the one before stays
 * in that one), the query's highlights of `hit` marked inside the chunk it matched. */
export function chunkBlocks(doc: DocumentDetail, chunk: number | null, hit: SearchResult | null): Block[] {
  const unit = unitOffsets(doc.text);
  const spans = [...doc.chunks].sort((a, b) => a.index - b.index);
  let marks: Span[] = [];
  const matched = spans.find((c) => c.index === chunk);
  if (matched && hit?.highlights?.length) {
    const start = unit(matched.start);
    // The result's offsets count in its own text, which is this chunk's text.
    if (doc.text.slice(start, unit(matched.end)) === hit.text) {
      marks = normalize(hit.text, hit.highlights).map(([a, b]): Span => [a + start, b + start]);
    }
  }
  const blocks: Block[] = [];
  let done = 0;
  for (const c of spans) {
    const from = Math.max(unit(c.start), done);
    const to = Math.max(unit(c.end), from);
    const gap = /^\s*\n/.exec(doc.text.slice(from, to))?.[0] ?? "";
    const start = from + gap.length;
    blocks.push({ index: c.index, gap, segments: markUnits(doc.text.slice(start, to), spansWithin(marks, start, to)) });
    done = to;
  }
  return blocks;
}

/** The result this document was opened from, if the search holds it. */
function hitOf(results: SearchResult[] | undefined, documentId: string, chunk: number | null): SearchResult | null {
  return results?.find((r) => r.document_id === documentId && r.metadata.chunk_index === chunk) ?? null;
}

function basename(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function DocumentView({ collectionId, documentId, chunk }: { collectionId: string; documentId: string; chunk: number | null }) {
  const store = useAppStore();
  const collection = useApp((s) => s.collections[collectionId]);
  const hasResults = useApp((s) => s.search.response !== null);
  const hit = useApp((s) => hitOf(s.search.response?.results, documentId, chunk));
  const [doc, setDoc] = useState<DocumentDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const matchRef = useRef<HTMLDivElement | null>(null);

  useEffect(() => {
    let current = true;
    getDocument(store.api, collectionId, documentId).then(
      (d) => current && setDoc(d),
      (e: unknown) => current && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      current = false;
    };
  }, [store, collectionId, documentId]);

  useEffect(() => {
    if (doc && chunk !== null) matchRef.current?.scrollIntoView({ block: "start" });
  }, [doc, chunk]);

  async function download(): Promise<void> {
    setDownloadError(null);
    try {
      const file = await downloadOriginal(store.api, collectionId, documentId, basename(doc?.path ?? "document"));
      save(file.blob, file.name);
    } catch (e) {
      setDownloadError(e instanceof Error ? e.message : String(e));
    }
  }

  const crumbs = (
    <nav aria-label="Breadcrumb" className="crumbs">
      <RouteLink route={{ name: "dashboard" }}>Collections</RouteLink> /{" "}
      <RouteLink route={{ name: "collection", id: collectionId, tab: "files" }}>{collection?.name ?? "Collection"}</RouteLink>
      {hasResults && (
        <>
          {" · "}
          <RouteLink route={{ name: "search" }}>Back to the results</RouteLink>
        </>
      )}
    </nav>
  );
  if (!doc) {
    return (
      <main id="main" className="page">
        {crumbs}
        {error ? <Notice kind="error" text={error} /> : <p className="muted">Loading the document…</p>}
      </main>
    );
  }

  const columns = doc.metadata.columns;
  const record = columns !== null && typeof columns === "object" ? Object.entries(columns as Record<string, unknown>) : null;
  const blocks = chunkBlocks(doc, chunk, hit);
  const found = chunk === null || blocks.some((b) => b.index === chunk);
  const facts: [string, string][] = [
    ["Path", doc.path],
    ["Type", [doc.file_type, doc.mime].filter(Boolean).join(" · ") || "unknown"],
    ["Size", formatBytes(doc.size)],
    ["Status", doc.status],
    ["Chunks", formatCount(doc.chunk_count)],
  ];
  if (doc.metadata.record_id !== undefined) facts.push(["Record id", String(doc.metadata.record_id)]);
  if (doc.metadata.row !== undefined) facts.push(["Row", String(doc.metadata.row)]);

  return (
    <main id="main" className="page document">
      {crumbs}
      <div className="page-head">
        <h1>{basename(doc.path)}</h1>
        <a
          href={contentPath(collectionId, documentId)}
          download={basename(doc.path)}
          className="button"
          onClick={(e) => {
            e.preventDefault();
            void download();
          }}
        >
          Download original
        </a>
      </div>
      {downloadError && <Notice kind="error" text={`The original could not be downloaded: ${downloadError}`} onClose={() => setDownloadError(null)} />}
      <dl className="facts">
        {facts.map(([term, value]) => (
          <div key={term} className="contents">
            <dt>{term}</dt>
            <dd className={term === "Path" ? "mono" : undefined}>{value}</dd>
          </div>
        ))}
      </dl>
      {record && (
        <section aria-labelledby="columns-title">
          <h2 id="columns-title">Columns</h2>
          <Table label="Columns of this record" columns={["Column", "Value"]} actions={false}>
            {record.map(([name, value]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{typeof value === "string" ? value : JSON.stringify(value)}</td>
              </tr>
            ))}
          </Table>
        </section>
      )}
      <section aria-labelledby="text-title">
        <h2 id="text-title">Text</h2>
        {doc.truncated && <p className="muted">This document has more chunks than one view shows; the text ends early.</p>}
        {!found && <p className="muted">The chunk the result matched (number {chunk}) is not in this view.</p>}
        {blocks.length === 0 ? (
          <p className="muted">No text is indexed for this document.</p>
        ) : (
          <div className="doc-text">
            {blocks.map((b) => {
              const match = b.index === chunk;
              return (
                <div
                  key={b.index}
                  id={`chunk-${b.index}`}
                  data-chunk={b.index}
                  ref={match ? matchRef : undefined}
                  className={match ? "chunk chunk-match" : "chunk"}
                  aria-current={match ? "true" : undefined}
                >
                  {b.gap && <span className="chunk-gap">{b.gap}</span>}
                  {b.segments.map((s, i) => (s.match ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
                </div>
              );
            })}
          </div>
        )}
      </section>
    </main>
  );
}
