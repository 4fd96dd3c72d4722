/**
 * Client state that survives a reload: one localStorage key holding a version number.
 * A stored value of another version (an older UI's layout) is dropped with every other
 * key of ours, so a changed shape never meets code that does not expect it (seed 000,
 * TASK-018).
 */
import type { SearchMode, TokenPair } from "./types";

export const STORAGE_KEY = "semantik.ui";
export const STORAGE_VERSION = 2;
/** Keys earlier UIs wrote; cleared with a stale state. */
const LEGACY_KEYS = ["access_token", "refresh_token", "semantik.collections"];

export interface PersistedState {
  tokens: TokenPair | null;
  selected: string[];
  mode: SearchMode;
  rerank: boolean;
  query: string;
}

export const EMPTY_STATE: PersistedState = {
  tokens: null,
  selected: [],
  mode: "hybrid",
  rerank: false,
  query: "",
};

const MODES: readonly SearchMode[] = ["hybrid", "dense", "sparse"];

/** What is stored, or the empty state when nothing (or a stale version) is. */
export function loadState(storage: Storage): { state: PersistedState; reset: boolean } {
  const raw = storage.getItem(STORAGE_KEY);
  if (raw === null) return { state: { ...EMPTY_STATE }, reset: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = null;
  }
  const record = parsed as { version?: unknown; state?: Partial<PersistedState> } | null;
  if (!record || record.version !== STORAGE_VERSION || typeof record.state !== "object") {
    clearState(storage);
    return { state: { ...EMPTY_STATE }, reset: true };
  }
  const s = record.state ?? {};
  const tokens =
    s.tokens && typeof s.tokens.access_token === "string" && typeof s.tokens.refresh_token === "string"
      ? { access_token: s.tokens.access_token, refresh_token: s.tokens.refresh_token }
      : null;
  return {
    state: {
      tokens,
      selected: Array.isArray(s.selected) ? s.selected.filter((x) => typeof x === "string") : [],
      mode: MODES.includes(s.mode as SearchMode) ? (s.mode as SearchMode) : "hybrid",
      rerank: s.rerank === true,
      query: typeof s.query === "string" ? s.query : "",
    },
    reset: false,
  };
}

export function saveState(storage: Storage, state: PersistedState): void {
  storage.setItem(STORAGE_KEY, JSON.stringify({ version: STORAGE_VERSION, state }));
}

export function clearState(storage: Storage): void {
  storage.removeItem(STORAGE_KEY);
  for (const key of LEGACY_KEYS) storage.removeItem(key);
}
