import { describe, expect, it } from "vitest";
import { fakeFetch, type Call } from "../test-support";
import { Api, ApiError, describeError } from "./api";

function session(initial: string | null) {
  const s = {
    token: initial,
    signedOut: 0,
    hooks: {
      accessToken: () => s.token,
      setAccessToken: (t: string | null) => {
        s.token = t;
      },
      onSignedOut: () => {
        s.signedOut++;
      },
    },
  };
  return s;
}

describe("describeError", () => {
  it("names the fields of a 422", () => {
    const body = { detail: [{ loc: ["body", "name"], msg: "String should have at least 1 character" }] };
    expect(describeError(body, 422)).toBe("name: String should have at least 1 character");
  });
  it("keeps a plain detail and explains a bare status", () => {
    expect(describeError({ detail: "collection exists" }, 409)).toBe("collection exists");
    expect(describeError(null, 429)).toMatch(/too many requests/);
    expect(describeError(null, 502)).toBe("request failed (502)");
  });
});

describe("Api", () => {
  it("signs in, registering first when asked", async () => {
    const calls: Call[] = [];
    const s = session(null);
    const api = new Api(
      s.hooks,
      fakeFetch(
        {
          "POST /api/v1/auth/register": () => ({ status: 201, body: {} }),
          "POST /api/v1/auth/login": () => ({ body: { access_token: "a", refresh_token: "r" } }),
        },
        calls,
      ),
    );
    await api.signIn("alice", "a long password", true);
    expect(calls.map((c) => c.path)).toEqual(["/api/v1/auth/register", "/api/v1/auth/login"]);
    // Only the access token is kept, in memory; the refresh token is the gateway's cookie.
    expect(s.token).toBe("a");
    expect(calls[1].credentials).toBe("same-origin");
  });

  it("reports a refused sign-in with the gateway's words", async () => {
    const api = new Api(
      session(null).hooks,
      fakeFetch({ "POST /api/v1/auth/login": () => ({ status: 401, body: { detail: "wrong username or password" } }) }),
    );
    await expect(api.signIn("alice", "nope", false)).rejects.toThrow("wrong username or password");
  });

  it("renews the access token once on a 401 and sends the request again", async () => {
    const calls: Call[] = [];
    const s = session("old");
    const api = new Api(
      s.hooks,
      fakeFetch(
        {
          "GET /api/v2/collections": (c) =>
            c.auth === "Bearer new" ? { body: { items: [], total: 0, limit: 500, offset: 0 } } : { status: 401, body: { detail: "expired" } },
          "POST /api/v1/auth/refresh": (c) => {
            // No body: the browser sends the httpOnly cookie, which scripts cannot read.
            expect(c.body).toBeUndefined();
            expect(c.credentials).toBe("same-origin");
            return { body: { access_token: "new", refresh_token: "r2" } };
          },
        },
        calls,
      ),
    );
    await expect(api.collections()).resolves.toMatchObject({ total: 0 });
    expect(calls.map((c) => `${c.method} ${c.path.split("?")[0]}`)).toEqual([
      "GET /api/v2/collections",
      "POST /api/v1/auth/refresh",
      "GET /api/v2/collections",
    ]);
    expect(s.token).toBe("new");
  });

  it("ends the session when the refresh token is refused too", async () => {
    const s = session("old");
    const api = new Api(
      s.hooks,
      fakeFetch({
        "GET /api/v2/collections": () => ({ status: 401, body: {} }),
        "POST /api/v1/auth/refresh": () => ({ status: 401, body: {} }),
      }),
    );
    const error = await api.collections().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect(s.token).toBeNull();
    expect(s.signedOut).toBe(1);
  });

  it("renews once for requests refused at the same time", async () => {
    let refreshes = 0;
    const s = session("old");
    const api = new Api(
      s.hooks,
      fakeFetch({
        "GET /api/v1/auth/me": (c) => (c.auth === "Bearer new" ? { body: { username: "alice" } } : { status: 401 }),
        "POST /api/v1/auth/refresh": () => {
          refreshes++;
          return { body: { access_token: "new", refresh_token: "r2" } };
        },
      }),
    );
    await Promise.all([api.me(), api.me(), api.me()]);
    expect(refreshes).toBe(1);
  });

  it("sends an upload as multipart with the chosen columns", async () => {
    const calls: Call[] = [];
    const api = new Api(
      session("a").hooks,
      fakeFetch({ "POST /api/v2/collections/c1/sources/upload": () => ({ status: 202, body: { operation: { id: "o1" } } }) }, calls),
    );
    const file = new File(["title,body\nx,y\n"], "tickets.csv", { type: "text/csv" });
    await api.upload("c1", file, { text_columns: ["body"], context_columns: ["title"], id_column: "title" });
    const form = calls[0].body as FormData;
    expect(form.getAll("text_columns")).toEqual(["body"]);
    expect(form.getAll("context_columns")).toEqual(["title"]);
    expect(form.get("id_column")).toBe("title");
    expect((form.get("file") as File).name).toBe("tickets.csv");
  });

  it("signs out with the refresh cookie and forgets the access token", async () => {
    const calls: Call[] = [];
    const s = session("a");
    const api = new Api(s.hooks, fakeFetch({ "POST /api/v1/auth/logout": () => ({ status: 204 }) }, calls));
    await api.signOut();
    expect(calls[0]).toMatchObject({ method: "POST", path: "/api/v1/auth/logout", credentials: "same-origin", body: undefined });
    expect(s.token).toBeNull();
  });

  it("renews from the cookie alone, and refuses an answer without an access token", async () => {
    const s = session(null);
    let answer: { status?: number; body?: unknown } = { body: { access_token: "fresh", refresh_token: "r" } };
    const api = new Api(s.hooks, fakeFetch({ "POST /api/v1/auth/refresh": () => answer }));
    await expect(api.renew()).resolves.toBe(true);
    expect(s.token).toBe("fresh");
    answer = { body: {} };
    await expect(api.renew()).resolves.toBe(false);
    answer = { status: 401, body: { detail: "no refresh token" } };
    await expect(api.renew()).resolves.toBe(false);
    expect(s.token).toBe("fresh");
  });

  it("turns an error status into an ApiError carrying the detail", async () => {
    const api = new Api(
      session("a").hooks,
      fakeFetch({ "POST /api/v2/collections/c1/operations/reindex": () => ({ status: 409, body: { detail: "an index operation runs" } }) }),
    );
    await expect(api.reindex("c1", {})).rejects.toThrow("an index operation runs");
  });
});
