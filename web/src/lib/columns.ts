/**
 * The columns of a record file chosen for upload, read in the browser from its first
 * bytes (csv, tsv, jsonl, json) so the column choice can be shown before anything is
 * sent. The server checks the choice again when the source is added (blank and repeated
 * headers are skipped there too, so they are here).
 */

export const RECORD_EXTENSIONS = ["csv", "tsv", "jsonl", "json", "parquet", "xlsx", "xls"];
/** Extensions whose header this reader understands. */
export const PREVIEWABLE = ["csv", "tsv", "jsonl", "json"];

export function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

export function isRecordFile(name: string): boolean {
  return RECORD_EXTENSIONS.includes(extension(name));
}

/** Split one delimited line, honouring double quotes ("" inside quotes is a quote). */
export function splitLine(line: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      cells.push(cell);
      cell = "";
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

function usable(headers: unknown[]): string[] {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const h of headers) {
    const name = h === null || h === undefined ? "" : String(h).trim();
    if (!name || seen.has(name)) continue;
    seen.add(name);
    kept.push(name);
  }
  return kept;
}

/** The usable columns found at the head of a record file's text; [] when unreadable. */
export function columnsOf(name: string, head: string): string[] {
  const ext = extension(name);
  const text = head.replace(/^\uFEFF/, "");
  if (ext === "csv" || ext === "tsv") {
    const first = text.split(/\r?\n/, 1)[0] ?? "";
    if (!first.trim()) return [];
    const delimiter = ext === "tsv" ? "\t" : first.includes(";") && !first.includes(",") ? ";" : ",";
    return usable(splitLine(first, delimiter));
  }
  if (ext === "jsonl") {
    const first = text.split(/\r?\n/).find((l) => l.trim()) ?? "";
    return objectKeys(first);
  }
  if (ext === "json") {
    const start = text.indexOf("{");
    if (start < 0) return [];
    const end = matchingBrace(text, start);
    return end < 0 ? [] : objectKeys(text.slice(start, end + 1));
  }
  return [];
}

function objectKeys(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return value && typeof value === "object" && !Array.isArray(value) ? usable(Object.keys(value)) : [];
  } catch {
    return [];
  }
}

function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return i;
  }
  return -1;
}

/** Read a chosen file's head (64 KiB) and find its columns. */
export async function readColumns(file: Blob & { name: string }): Promise<string[]> {
  if (!PREVIEWABLE.includes(extension(file.name))) return [];
  const head = await file.slice(0, 64 * 1024).text();
  return columnsOf(file.name, head);
}
