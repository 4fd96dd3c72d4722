/**
 * Client state that survives a reload: one localStorage key holding a version number.
 * A stored value of another version (an older UI's layout) is dropped with every other
 * key of ours, so a changed shape never meets code that does not expect it (seed 000,
 * TASK-018).
 *
 * No token is ever stored: the refresh token lives in the gateway's httpOnly cookie and
 * the access token in memory (SPEC §11). What is kept is whether a session was open, so
 * that a reload asks the gateway for a new access token only when there is a session to
 * resume. Version 2 kept the tokens here; it is read once more for the search choices
 * and rewritten without them at once.
 */
import type { SearchMode } from "./types";

export const STORAGE_KEY = "semantik.ui";
export const STORAGE_VERSION = 3;
/** The version that still held the tokens: its choices are carried over, nothing else. */
const TOKENS_VERSION = 2;
/** Keys earlier UIs wrote; cleared with a stale state. */
const LEGACY_KEYS = ["access_token", "refresh_token", "semantik.collections"];

export interface PersistedState {
  /** A session was open when the page was left (a hint, not a credential). */
  signedIn: boolean;
  selected: string[];
  mode: SearchMode;
  rerank: boolean;
  query: string;
}

export const EMPTY_STATE: PersistedState = {
  signedIn: false,
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
  const record = parsed as { version?: unknown; state?: Record<string, unknown> } | null;
  const known = record?.version === STORAGE_VERSION || record?.version === TOKENS_VERSION;
  if (!record || !known || typeof record.state !== "object") {
    clearState(storage);
    return { state: { ...EMPTY_STATE }, reset: true };
  }
  const s = record.state ?? {};
  const state: PersistedState = {
    signedIn: s.signedIn === true,
    selected: Array.isArray(s.selected) ? s.selected.filter((x) => typeof x === "string") : [],
    mode: MODES.includes(s.mode as SearchMode) ? (s.mode as SearchMode) : "hybrid",
    rerank: s.rerank === true,
    query: typeof s.query === "string" ? s.query : "",
  };
  if (record.version === TOKENS_VERSION) {
    // Its refresh token must not stay readable by scripts: that session is dropped
    // (the user signs in once more, and gets the cookie).
    clearState(storage);
    saveState(storage, state);
  }
  return { state, reset: false };
}

export function saveState(storage: Storage, state: PersistedState): void {
  storage.setItem(STORAGE_KEY, JSON.stringify({ version: STORAGE_VERSION, state }));
}

export function clearState(storage: Storage): void {
  storage.removeItem(STORAGE_KEY);
  for (const key of LEGACY_KEYS) storage.removeItem(key);
}
