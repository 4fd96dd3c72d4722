import { describe, expect, it } from "vitest";
import { FakeSocket } from "../test-support";
import { defaultBackoff, LiveConnection, socketUrl, type LiveFrame, type LiveState } from "./live";

function setup(renewal = true) {
  const sockets: FakeSocket[] = [];
  const events: LiveFrame[] = [];
  const states: LiveState[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  let token = "t1";
  let renewals = 0;
  const live = new LiveConnection({
    url: "ws://host/ws",
    token: () => token,
    renew: async () => {
      renewals++;
      token = `t${renewals + 1}`;
      return renewal;
    },
    connect: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s;
    },
    onEvent: (f) => events.push(f),
    onState: (s) => states.push(s),
    schedule: (fn, ms) => timers.push({ fn, ms }),
  });
  return { live, sockets, events, states, timers, renewals: () => renewals };
}

const progressed = (seq: number) => ({
  type: "OperationProgressed",
  seq,
  subscription: "collection:c1",
  data: { collection_id: "c1", operation_id: "o1", progress: seq / 10 },
});

describe("LiveConnection", () => {
  it("carries the token as a subprotocol and subscribes once open", () => {
    const { live, sockets, states } = setup();
    live.followCollection("c1");
    live.start();
    expect(sockets[0].protocols).toEqual(["semantik", "access_token.t1"]);
    expect(sockets[0].sent).toEqual([]);
    sockets[0].open();
    live.followCollection("c1"); // already followed: not sent twice
    expect(sockets[0].sent).toEqual([{ type: "subscribe_collection", collection_id: "c1" }]);
    expect(states).toEqual(["connecting", "open"]);
  });

  it("resumes after a dropped socket from the last seq, without gaps or repeats", () => {
    const { live, sockets, events, timers } = setup();
    live.start();
    sockets[0].open();
    live.followCollection("c1");
    live.followOperation("o9");
    sockets[0].emit(progressed(41));
    sockets[0].emit(progressed(42));
    sockets[0].drop(1006);
    expect(timers).toHaveLength(1);
    timers[0].fn();
    sockets[1].open();
    expect(sockets[1].sent).toEqual([
      { type: "subscribe_collection", collection_id: "c1", last_seq: 42 },
      { type: "subscribe_operation", operation_id: "o9" },
    ]);
    // The server replays from 43; an overlapping frame is dropped.
    sockets[1].emit(progressed(42));
    sockets[1].emit(progressed(43));
    sockets[1].emit(progressed(44));
    expect(events.map((e) => e.seq)).toEqual([41, 42, 43, 44]);
    expect(live.lastSeq("collection", "c1")).toBe(44);
  });

  it("keeps a snapshot's seq, and starts again from a snapshot when asked to resync", () => {
    const { live, sockets, events, timers } = setup();
    live.start();
    sockets[0].open();
    live.followCollection("c1");
    sockets[0].emit({ type: "snapshot", seq: 30, subscription: "collection:c1", data: {} });
    expect(live.lastSeq("collection", "c1")).toBe(30);
    sockets[0].drop(1006);
    timers[0].fn();
    sockets[1].open();
    expect(sockets[1].sent).toEqual([{ type: "subscribe_collection", collection_id: "c1", last_seq: 30 }]);
    // The stream no longer holds what came after 30: subscribed again, without last_seq.
    sockets[1].emit({ type: "error", subscription: "collection:c1", data: { code: "resync", message: "gone" } });
    expect(sockets[1].sent.at(-1)).toEqual({ type: "subscribe_collection", collection_id: "c1" });
    expect(live.lastSeq("collection", "c1")).toBeNull();
    sockets[1].emit({ type: "snapshot", seq: 90, subscription: "collection:c1", data: {} });
    expect(events.map((e) => [e.type, e.seq])).toEqual([
      ["snapshot", 30],
      ["snapshot", 90],
    ]);
  });

  it("renews the token before reconnecting after a 1008", async () => {
    const { live, sockets, timers, renewals } = setup();
    live.start();
    sockets[0].open();
    sockets[0].drop(1008);
    await Promise.resolve();
    await Promise.resolve();
    expect(renewals()).toBe(1);
    timers[0].fn();
    expect(sockets[1].protocols).toContain("access_token.t2");
  });

  it("stops for good when the session cannot be renewed", async () => {
    const { live, sockets, timers, states } = setup(false);
    live.start();
    sockets[0].open();
    sockets[0].drop(1008);
    await Promise.resolve();
    await Promise.resolve();
    expect(timers).toHaveLength(0);
    expect(states.at(-1)).toBe("closed");
  });

  it("backs off longer after each failed attempt and resets once open", () => {
    const { live, sockets, timers } = setup();
    live.start();
    sockets[0].drop();
    timers[0].fn();
    sockets[1].drop();
    timers[1].fn();
    sockets[2].open();
    sockets[2].drop();
    expect(timers.map((t) => t.ms)).toEqual([500, 1000, 500]);
    expect(defaultBackoff(10)).toBe(10_000);
  });

  it("does not reconnect after stop, and ignores a closed socket's late frames", () => {
    const { live, sockets, events, timers } = setup();
    live.start();
    sockets[0].open();
    live.followCollection("c1");
    live.stop();
    expect(sockets[0].closedWith).toBe(1000);
    sockets[0].emit(progressed(1));
    sockets[0].drop();
    expect(events).toEqual([]);
    expect(timers).toEqual([]);
  });

  it("unsubscribes by subscription name", () => {
    const { live, sockets } = setup();
    live.start();
    sockets[0].open();
    live.followCollection("c1");
    live.unfollow("collection", "c1");
    live.unfollow("collection", "c1");
    expect(sockets[0].sent.at(-1)).toEqual({ type: "unsubscribe", subscription: "collection:c1" });
    expect(sockets[0].sent).toHaveLength(2);
  });

  it("passes control frames on and skips what is not JSON", () => {
    const { live, sockets, events } = setup();
    live.start();
    sockets[0].open();
    sockets[0].onmessage?.({ data: "not json" });
    sockets[0].emit({ type: "heartbeat", data: {} });
    expect(events.map((e) => e.type)).toEqual(["heartbeat"]);
  });

  it("does not open without a token", () => {
    const live = new LiveConnection({
      url: "ws://x/ws",
      token: () => null,
      renew: async () => false,
      connect: () => {
        throw new Error("must not connect");
      },
      onEvent: () => undefined,
    });
    live.start();
    expect(live.lastSeq("collection", "x")).toBeUndefined();
  });

  it("builds the socket URL from the page's address", () => {
    expect(socketUrl({ protocol: "https:", host: "s.example" })).toBe("wss://s.example/ws");
    expect(socketUrl({ protocol: "http:", host: "127.0.0.1:8080" })).toBe("ws://127.0.0.1:8080/ws");
  });
});
