import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../test-support";
import { clearState, EMPTY_STATE, loadState, saveState, STORAGE_KEY, STORAGE_VERSION } from "./storage";

describe("versioned client state", () => {
  it("round-trips what it saves", () => {
    const storage = new MemoryStorage();
    const state = {
      signedIn: true,
      selected: ["c1", "c2"],
      mode: "sparse" as const,
      rerank: true,
      query: "pricing",
    };
    saveState(storage, state);
    expect(loadState(storage)).toEqual({ state, reset: false });
  });

  it("starts empty when nothing is stored", () => {
    expect(loadState(new MemoryStorage())).toEqual({ state: EMPTY_STATE, reset: false });
  });

  it("clears a state of another version, with the keys older UIs wrote", () => {
    const storage = new MemoryStorage();
    storage.setItem(STORAGE_KEY, JSON.stringify({ version: 1, state: { query: "old" } }));
    storage.setItem("access_token", "from the first page");
    storage.setItem("unrelated", "kept");
    const { state, reset } = loadState(storage);
    expect(reset).toBe(true);
    expect(state).toEqual(EMPTY_STATE);
    expect(storage.getItem(STORAGE_KEY)).toBeNull();
    expect(storage.getItem("access_token")).toBeNull();
    expect(storage.getItem("unrelated")).toBe("kept");
  });

  it("treats unreadable JSON as stale", () => {
    const storage = new MemoryStorage();
    storage.setItem(STORAGE_KEY, "{not json");
    expect(loadState(storage).reset).toBe(true);
    expect(storage.getItem(STORAGE_KEY)).toBeNull();
  });

  it("drops fields of the wrong shape instead of trusting them", () => {
    const storage = new MemoryStorage();
    storage.setItem(
      STORAGE_KEY,
      JSON.stringify({
        version: STORAGE_VERSION,
        state: { signedIn: "yes", selected: ["ok", 3], mode: "fuzzy", rerank: "yes", query: 5 },
      }),
    );
    expect(loadState(storage).state).toEqual({ ...EMPTY_STATE, selected: ["ok"] });
  });

  it("drops the tokens an older UI stored, keeping its search choices", () => {
    const storage = new MemoryStorage();
    const old = { tokens: { access_token: "a", refresh_token: "r" }, selected: ["c1"], mode: "dense", rerank: true, query: "q" };
    storage.setItem(STORAGE_KEY, JSON.stringify({ version: 2, state: old }));
    storage.setItem("refresh_token", "from the first page");
    const { state, reset } = loadState(storage);
    expect(reset).toBe(false);
    expect(state).toEqual({ signedIn: false, selected: ["c1"], mode: "dense", rerank: true, query: "q" });
    // Gone from storage at once, not at the next save.
    const stored = storage.getItem(STORAGE_KEY) as string;
    expect(JSON.parse(stored)).toEqual({ version: STORAGE_VERSION, state });
    expect(stored).not.toContain("refresh_token");
    expect(storage.getItem("refresh_token")).toBeNull();
  });

  it("clearState removes our key", () => {
    const storage = new MemoryStorage();
    saveState(storage, EMPTY_STATE);
    clearState(storage);
    expect(storage.length).toBe(0);
  });
});
