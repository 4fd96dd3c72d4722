/**
 * The WebSocket `/ws` (SPEC §7): subscriptions to collections and operations whose
 * events drive the live progress. Each subscription remembers the last `seq` it was
 * given; after the socket closes (network, gateway restart, 1008 for an expired token)
 * it reconnects with backoff and subscribes again with `last_seq`, so the server replays
 * exactly what was missed. Frames at or below a subscription's `last_seq` (a replay
 * overlapping what was seen) are dropped: the UI sees every event once, in order.
 * A first subscription (no `last_seq`) starts with a `snapshot` frame of the current
 * state, whose `seq` is where its events follow on from. When the stream no longer
 * holds what came after `last_seq` (its retention), the server answers an `error` of
 * code `resync`: the subscription starts again from a snapshot.
 */

export interface LiveFrame {
  type: string;
  seq?: number;
  timestamp?: string;
  subscription?: string;
  data: Record<string, unknown>;
}

/** The part of the browser's WebSocket this client uses (tests hand in a fake). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;
export type LiveState = "connecting" | "open" | "closed";

const OPEN = 1;
export const POLICY_VIOLATION = 1008;

export interface LiveOptions {
  url: string;
  token(): string | null;
  /** Renew the access token; false when the session is over. */
  renew(): Promise<boolean>;
  connect: SocketFactory;
  onEvent(frame: LiveFrame): void;
  onState?(state: LiveState): void;
  /** Milliseconds before the n-th reconnect (n from 0). */
  backoff?(attempt: number): number;
  schedule?(fn: () => void, ms: number): unknown;
}

export function defaultBackoff(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 10_000);
}

type Kind = "collection" | "operation";

export class LiveConnection {
  private socket: SocketLike | null = null;
  /** subscription key ("collection:<id>") -> last seq seen (null: none yet). */
  private readonly followed = new Map<string, number | null>();
  private attempt = 0;
  private stopped = true;

  constructor(private readonly options: LiveOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "signed out");
    this.followed.clear();
    this.options.onState?.("closed");
  }

  followCollection(id: string): void {
    this.follow("collection", id);
  }

  followOperation(id: string): void {
    this.follow("operation", id);
  }

  unfollow(kind: Kind, id: string): void {
    const key = `${kind}:${id}`;
    if (!this.followed.delete(key)) return;
    this.send({ type: "unsubscribe", subscription: key });
  }

  /** The last sequence number seen for a subscription (for tests and diagnostics). */
  lastSeq(kind: Kind, id: string): number | null | undefined {
    return this.followed.get(`${kind}:${id}`);
  }

  private follow(kind: Kind, id: string): void {
    const key = `${kind}:${id}`;
    if (this.followed.has(key)) return;
    this.followed.set(key, null);
    this.subscribe(key, null);
  }

  private subscribe(key: string, lastSeq: number | null): void {
    const [kind, id] = key.split(":", 2);
    const message: Record<string, unknown> = { type: `subscribe_${kind}`, [`${kind}_id`]: id };
    if (lastSeq !== null) message.last_seq = lastSeq;
    this.send(message);
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket && this.socket.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  private open(): void {
    const token = this.options.token();
    if (!token) {
      this.options.onState?.("closed");
      return;
    }
    this.options.onState?.("connecting");
    const socket = this.options.connect(this.options.url, ["semantik", `access_token.${token}`]);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.options.onState?.("open");
      for (const [key, seq] of this.followed) this.subscribe(key, seq);
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.receive(String(event.data));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.options.onState?.("connecting");
      void this.reconnect(event.code);
    };
  }

  private async reconnect(code: number): Promise<void> {
    if (code === POLICY_VIOLATION && !(await this.options.renew())) {
      this.stopped = true;
      this.options.onState?.("closed");
      return;
    }
    const delay = (this.options.backoff ?? defaultBackoff)(this.attempt++);
    const schedule = this.options.schedule ?? ((fn, ms) => setTimeout(fn, ms));
    schedule(() => {
      if (!this.stopped && this.socket === null) this.open();
    }, delay);
  }

  private receive(raw: string): void {
    let frame: LiveFrame;
    try {
      frame = JSON.parse(raw) as LiveFrame;
    } catch {
      return;
    }
    const key = frame.subscription;
    if (frame.type === "error" && frame.data?.code === "resync" && key !== undefined && this.followed.has(key)) {
      this.followed.set(key, null);
      this.subscribe(key, null);
      return;
    }
    if (typeof frame.seq === "number" && key !== undefined && this.followed.has(key)) {
      const last = this.followed.get(key) ?? null;
      if (last !== null && frame.seq <= last) return; // already seen before a reconnect
      this.followed.set(key, frame.seq);
    }
    this.options.onEvent(frame);
  }
}

/** The socket URL beside the page (ws: or wss:). */
export function socketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}
