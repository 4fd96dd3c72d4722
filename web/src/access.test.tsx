import { act, cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./App";
import { collection, harness, operation, page, renderWith, type Call, type Handler } from "./test-support";
import type { Access, ApiKey, Collection, SourceRoot, Team, UserRow } from "./lib/types";

afterEach(cleanup);

const ME = { id: "u-alice", username: "alice", email: null, is_admin: false, teams: [], created_at: "" };
const ADMIN = { ...ME, is_admin: true };

const mine = collection("notes");
const viewing = collection("wiki", { my_role: "viewer", owner: "u-bob" });
const editing = collection("tickets", { my_role: "editor", owner: "u-bob" });

function routes(collections: Collection[], me = ME): Record<string, Handler> {
  return {
    "GET /api/v1/auth/me": () => ({ body: me }),
    "GET /api/v2/collections": () => ({ body: page(collections) }),
    "GET /api/v2/operations": () => ({ body: page([]) }),
  };
}

async function started(r: Record<string, Handler>) {
  const h = harness(r);
  await h.store.getState().start();
  renderWith(h.store, <App />);
  return h;
}

function details(c: Collection, extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    ...routes([c]),
    [`GET /api/v2/collections/${c.id}`]: () => ({ body: c }),
    [`GET /api/v2/collections/${c.id}/sources`]: () => ({
      body: { items: [{ id: "s1", collection_id: c.id, kind: "directory", path: "/srv/docs", text_columns: [], context_columns: [], id_column: null, created_at: "" }] },
    }),
    [`GET /api/v2/collections/${c.id}/operations`]: () => ({ body: page([operation(c.id, { id: "run" })]) }),
    ...extra,
  };
}

async function open(c: Collection, tab: "overview" | "operations" | "settings", extra: Record<string, Handler> = {}) {
  const h = harness(details(c, extra));
  await h.store.getState().start();
  h.store.setState({ route: { name: "collection", id: c.id, tab } });
  renderWith(h.store, <App />);
  return h;
}

describe("login and registration modes", () => {
  function loginWith(registration: Handler, extra: Record<string, Handler> = {}) {
    const h = harness({ ...routes([]), "GET /api/v1/auth/registration": registration, ...extra }, false);
    renderWith(h.store, <App />);
    return h;
  }

  it("closed: no way to create an account, only a pointer to the admins", async () => {
    loginWith(() => ({ body: { mode: "closed", first_account: false } }));
    expect(await screen.findByText("New here? Ask an administrator for an account.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Create an account/ })).toBeNull();
  });

  it("the first account is offered whatever the mode, and said to administer", async () => {
    loginWith(() => ({ body: { mode: "closed", first_account: true } }));
    expect(await screen.findByText(/the first account created administers Semantik/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: /Create an account/ }));
    expect(screen.queryByLabelText("Invite code")).toBeNull();
  });

  it("invite: the code and an email are sent with the registration", async () => {
    const calls: Call[] = [];
    loginWith(() => ({ body: { mode: "invite", first_account: false } }), {
      "POST /api/v1/auth/register": (c) => (calls.push(c), { status: 201, body: {} }),
      "POST /api/v1/auth/login": () => ({ body: { access_token: "a", refresh_token: "r" } }),
    });
    fireEvent.click(await screen.findByRole("button", { name: /Create an account/ }));
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "bob" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "a long password" } });
    fireEvent.change(screen.getByLabelText(/Email/), { target: { value: "bob@example.org" } });
    fireEvent.change(screen.getByLabelText(/Invite code/), { target: { value: " INV-1 " } });
    fireEvent.click(screen.getByRole("button", { name: "Create account and sign in" }));
    expect(await screen.findByRole("heading", { name: "No collections yet" })).toBeTruthy();
    expect(calls[0].body).toEqual({ username: "bob", password: "a long password", email: "bob@example.org", invite_code: "INV-1" });
  });

  it("open: a refusal of the gateway is shown on the form", async () => {
    loginWith(() => ({ body: { mode: "open", first_account: false } }), {
      "POST /api/v1/auth/register": () => ({ status: 403, body: { detail: "registration is closed; ask an admin for an account" } }),
    });
    fireEvent.click(await screen.findByRole("button", { name: /Create an account/ }));
    expect(screen.queryByLabelText(/Invite code/)).toBeNull();
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "bob" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "a long password" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account and sign in" }));
    expect(await screen.findByText("registration is closed; ask an admin for an account")).toBeTruthy();
  });
});

describe("navigation by instance role", () => {
  it("a user sees API keys but not Admin", async () => {
    const h = await started(routes([]));
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).queryByRole("link", { name: "Admin" })).toBeNull();
    expect(within(nav).getByRole("link", { name: "API keys" }).getAttribute("href")).toBe("/api-keys");
    act(() => h.store.getState().navigate({ name: "admin" }));
    expect(screen.getByText("Only administrators see this page.")).toBeTruthy();
  });

  it("an admin sees Admin", async () => {
    await started({ ...routes([], ADMIN), "GET /api/v1/users": () => ({ body: [] }), "GET /api/v1/teams": () => ({ body: [] }) });
    fireEvent.click(within(screen.getByRole("navigation", { name: "Main" })).getByRole("link", { name: "Admin" }));
    expect(screen.getByRole("heading", { level: 1, name: "Administration" })).toBeTruthy();
  });
});

describe("shared with me", () => {
  it("lists collections of others in their own section with the role", async () => {
    await started(routes([mine, viewing, editing]));
    const own = screen.getByRole("list", { name: "Collections" });
    expect(within(own).getAllByRole("listitem").map((li) => li.dataset.testid)).toEqual(["card-notes"]);
    const shared = screen.getByRole("list", { name: "Shared with me" });
    expect(within(shared).getAllByRole("listitem").map((li) => li.dataset.testid).sort()).toEqual(["card-tickets", "card-wiki"]);
    expect(within(screen.getByTestId("card-wiki")).getByText("viewer")).toBeTruthy();
    expect(within(screen.getByTestId("card-tickets")).getByText("editor")).toBeTruthy();
    expect(within(screen.getByTestId("card-notes")).queryByText("owner")).toBeNull();
  });

  it("without shared collections the dashboard has no such section; with only shared ones it says so", async () => {
    await started(routes([mine]));
    expect(screen.queryByRole("heading", { name: "Shared with me" })).toBeNull();
    cleanup();
    await started(routes([viewing]));
    expect(screen.getByRole("heading", { name: "Shared with me" })).toBeTruthy();
    expect(screen.getByText("None of your own yet.")).toBeTruthy();
  });
});

describe("controls a role does not allow are hidden", () => {
  it("a viewer reads: no add, share, remove, cancel, reindex, rename or delete", async () => {
    await open(viewing, "overview");
    expect(await screen.findByText("/srv/docs")).toBeTruthy();
    expect(screen.getByRole("heading", { level: 1 }).textContent).toContain("viewer");
    expect(screen.queryByRole("button", { name: "Add data" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Share" })).toBeNull();
    expect(screen.queryByRole("button", { name: /Remove source/ })).toBeNull();
    fireEvent.click(screen.getByRole("tab", { name: "Operations" }));
    expect(await screen.findByRole("progressbar")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    fireEvent.click(screen.getByRole("tab", { name: "Settings" }));
    expect(screen.getByText(/You can view and search this collection \(your role: viewer\)/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Reindex/ })).toBeNull();
    expect(screen.queryByRole("button", { name: /Delete collection/ })).toBeNull();
    expect(screen.queryByLabelText("Collection name")).toBeNull();
  });

  it("an editor changes data and reindexes, but does not rename, share or delete", async () => {
    await open(editing, "overview");
    expect(await screen.findByText("/srv/docs")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Add data" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Remove source /srv/docs" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Share" })).toBeNull();
    fireEvent.click(screen.getByRole("tab", { name: "Operations" }));
    expect(await screen.findByRole("button", { name: "Cancel" })).toBeTruthy();
    fireEvent.click(screen.getByRole("tab", { name: "Settings" }));
    expect(screen.getByRole("button", { name: "Reindex with these settings…" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Delete collection/ })).toBeNull();
    expect(screen.queryByLabelText("Collection name")).toBeNull();
  });

  it("the owner renames and describes", async () => {
    const calls: Call[] = [];
    const h = await open(mine, "settings", {
      [`PATCH /api/v2/collections/${mine.id}`]: (c) => (calls.push(c), { body: { ...mine, name: "minutes", description: "weekly" } }),
    });
    expect(screen.getByRole("button", { name: "Delete collection…" })).toBeTruthy();
    const save = screen.getByRole("button", { name: "Save" });
    expect(save).toHaveProperty("disabled", true);
    fireEvent.change(screen.getByLabelText("Collection name"), { target: { value: "minutes" } });
    fireEvent.change(screen.getByLabelText("Description"), { target: { value: "weekly" } });
    fireEvent.click(save);
    await waitFor(() => expect(h.store.getState().collections[mine.id].name).toBe("minutes"));
    expect(calls[0].body).toEqual({ name: "minutes", description: "weekly" });
  });

  it("an editor removes a source after confirming; a refusal is shown", async () => {
    let refuse = true;
    const h = await open(editing, "overview", {
      [`DELETE /api/v2/collections/${editing.id}/sources/s1`]: () =>
        refuse
          ? { status: 409, body: { detail: "the collection is busy" } }
          : { status: 202, body: { source: {}, operation: operation(editing.id, { id: "rm", type: "remove_source" }) } },
    });
    fireEvent.click(await screen.findByRole("button", { name: "Remove source /srv/docs" }));
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    fireEvent.click(screen.getByRole("button", { name: "Remove source /srv/docs" }));
    const remove = screen.getByRole("button", { name: "Remove source and its documents" });
    expect(remove).toHaveProperty("disabled", true);
    fireEvent.change(screen.getByLabelText(/to confirm/), { target: { value: "/srv/docs" } });
    fireEvent.click(remove);
    expect(await screen.findByText("the collection is busy", { selector: "dialog span" })).toBeTruthy();
    refuse = false;
    fireEvent.click(screen.getByRole("button", { name: "Remove source and its documents" }));
    await waitFor(() => expect(screen.queryByText("/srv/docs")).toBeNull());
    expect(h.store.getState().operations.rm.type).toBe("remove_source");
  });

  it("a collection no longer shared (403) leaves the view", async () => {
    let shared = true;
    const h = await open(viewing, "overview", {
      [`GET /api/v2/collections/${viewing.id}`]: () => (shared ? { body: viewing } : { status: 403, body: { detail: "not allowed" } }),
    });
    expect(await screen.findByText("/srv/docs")).toBeTruthy();
    shared = false;
    await act(async () => {
      await h.store.getState().refreshCollection(viewing.id);
    });
    expect(h.store.getState().collections[viewing.id]).toBeUndefined();
    expect(screen.getByText("This collection does not exist (or was deleted).")).toBeTruthy();
  });
});

describe("share dialog", () => {
  it("lists the owner and grants; adds, changes and revokes access", async () => {
    const calls: Call[] = [];
    let access: Access = {
      collection_id: mine.id,
      owner: "u-alice",
      owner_name: "alice",
      grants: [
        { principal_type: "team", principal_id: "t1", principal_name: "support", role: "editor" },
        { principal_type: "user", principal_id: "u-gone", principal_name: null, role: "viewer" },
      ],
    };
    const base = `/api/v2/collections/${mine.id}/access`;
    await open(mine, "overview", {
      [`GET ${base}`]: () => ({ body: access }),
      "GET /api/v1/directory": () => ({
        body: { users: [{ id: "u-alice", username: "alice" }, { id: "u-bob", username: "bob" }], teams: [{ id: "t1", name: "support" }, { id: "t2", name: "sales" }] },
      }),
      [`PUT ${base}/user/u-bob`]: (c) => {
        calls.push(c);
        const role = (c.body as { role: "viewer" | "editor" }).role;
        access = { ...access, grants: [...access.grants.filter((g) => g.principal_id !== "u-bob"), { principal_type: "user", principal_id: "u-bob", principal_name: "bob", role }] };
        return { body: access };
      },
      [`DELETE ${base}/team/t1`]: (c) => {
        calls.push(c);
        access = { ...access, grants: access.grants.filter((g) => g.principal_id !== "t1") };
        return { status: 204 };
      },
    });
    fireEvent.click(screen.getByRole("button", { name: "Share" }));
    const dialog = screen.getByRole("dialog", { name: "Share notes" });
    const table = await within(dialog).findByRole("table", { name: "People and teams with access" });
    expect(within(table).getAllByRole("row").map((r) => r.textContent)).toEqual([
      "WhoRoleActions",
      "alice (user)owner",
      "support (team)viewereditorRevoke",
      "u-gone (user)viewereditorRevoke",
    ]);
    const who = within(dialog).getByLabelText("Give access to") as HTMLSelectElement;
    await waitFor(() => expect(who.options.length).toBe(3));
    // Neither the owner nor a principal with a grant is offered.
    expect([...who.options].map((o) => o.textContent)).toEqual(["Choose a person or team…", "bob", "sales (team)"]);
    fireEvent.change(who, { target: { value: "user:u-bob" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Share" }));
    expect(await within(dialog).findByTestId("grant-bob")).toBeTruthy();
    expect(calls[0].body).toEqual({ role: "viewer" });
    fireEvent.change(within(dialog).getByLabelText("Role of bob (user)"), { target: { value: "editor" } });
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1].body).toEqual({ role: "editor" });
    fireEvent.click(within(dialog).getByRole("button", { name: "Revoke support (team)" }));
    await waitFor(() => expect(within(dialog).queryByTestId("grant-support")).toBeNull());
    expect(calls[2].method).toBe("DELETE");
    fireEvent.click(within(dialog).getByRole("button", { name: "Done" }));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("says why the access cannot be read", async () => {
    await open(mine, "overview", {
      [`GET /api/v2/collections/${mine.id}/access`]: () => ({ status: 403, body: { detail: "only the owner manages access" } }),
      "GET /api/v1/directory": () => ({ body: { users: [], teams: [] } }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Share" }));
    expect(await within(screen.getByRole("dialog")).findByText("only the owner manages access")).toBeTruthy();
  });
});

function user(name: string, extra: Partial<UserRow> = {}): UserRow {
  return { id: `u-${name}`, username: name, email: null, is_admin: false, disabled: false, created_at: "2026-11-30T10:00:00Z", ...extra };
}

describe("admin page", () => {
  async function admin(extra: Record<string, Handler> = {}) {
    const h = harness({
      ...routes([], ADMIN),
      "GET /api/v1/auth/registration": () => ({ body: { mode: "closed", first_account: false } }),
      "GET /api/v1/source-roots": () => ({ body: [] }),
      ...extra,
    });
    await h.store.getState().start();
    h.store.setState({ route: { name: "admin" } });
    renderWith(h.store, <App />);
    return h;
  }

  it("lists users; creates one, disables, promotes and resets a password", async () => {
    const calls: Call[] = [];
    let users = [user("alice", { id: "u-alice", is_admin: true }), user("bob", { email: "bob@example.org" }), user("cli", { is_admin: true, operator: true })];
    await admin({
      "GET /api/v1/users": () => ({ body: users }),
      "GET /api/v1/teams": () => ({ body: [] }),
      "POST /api/v1/users": (c) => {
        calls.push(c);
        const made = user("carol");
        users = [...users, made];
        return { status: 201, body: made };
      },
      "PATCH /api/v1/users/u-bob": (c) => {
        calls.push(c);
        users = users.map((u) => (u.id === "u-bob" ? { ...u, ...(c.body as Partial<UserRow>) } : u));
        return { body: users[1] };
      },
    });
    const table = await screen.findByRole("table", { name: "Users" });
    expect(within(table).getAllByRole("row").slice(1).map((r) => r.querySelector("th")?.textContent)).toEqual(["alice (you)", "bob", "cli"]);
    // The command line's account: shown, never changed here.
    expect(within(screen.getByTestId("user-cli")).getByText("operator (command line)")).toBeTruthy();
    expect(within(screen.getByTestId("user-cli")).queryAllByRole("button")).toEqual([]);
    // Not oneself: an admin does not lock themselves out.
    expect(within(screen.getByTestId("user-alice")).queryByRole("button", { name: /Disable/ })).toBeNull();
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "carol" } });
    fireEvent.change(screen.getByLabelText("Initial password"), { target: { value: "a long password" } });
    fireEvent.click(screen.getByLabelText("Administrator"));
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText("Account carol created.")).toBeTruthy();
    expect(calls[0].body).toEqual({ username: "carol", password: "a long password", is_admin: true });
    expect(await screen.findByTestId("user-carol")).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Disable bob" }));
    expect(await screen.findByText("bob is disabled.")).toBeTruthy();
    expect(calls[1].body).toEqual({ disabled: true });
    expect(within(screen.getByTestId("user-bob")).getByText("disabled")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Enable bob" }));
    await waitFor(() => expect(calls[2].body).toEqual({ disabled: false }));

    fireEvent.click(await screen.findByRole("button", { name: "Make bob an admin" }));
    expect(await screen.findByText("bob is now an admin.")).toBeTruthy();
    expect(calls[3].body).toEqual({ is_admin: true });

    fireEvent.click(screen.getByRole("button", { name: "Reset the password of bob" }));
    fireEvent.change(screen.getByLabelText("New password for bob"), { target: { value: "brand new secret" } });
    fireEvent.click(screen.getByRole("button", { name: "Set password" }));
    expect(await screen.findByText("The password of bob is reset.")).toBeTruthy();
    expect(calls[4].body).toEqual({ password: "brand new secret" });
  });

  it("shows a refused user creation", async () => {
    await admin({
      "GET /api/v1/users": () => ({ body: [] }),
      "GET /api/v1/teams": () => ({ body: [] }),
      "POST /api/v1/users": () => ({ status: 409, body: { detail: "username bob is taken" } }),
    });
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "bob" } });
    fireEvent.change(screen.getByLabelText("Initial password"), { target: { value: "a long password" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText("username bob is taken")).toBeTruthy();
  });

  it("sets the registration mode and creates an invite shown once", async () => {
    const calls: Call[] = [];
    await admin({
      "GET /api/v1/users": () => ({ body: [] }),
      "GET /api/v1/teams": () => ({ body: [] }),
      "PUT /api/v1/auth/registration": (c) => (calls.push(c), { body: { mode: "invite", first_account: false } }),
      "POST /api/v1/invites": (c) => (calls.push(c), { status: 201, body: { code: "INV-42", expires_at: "2026-12-01T10:00:00Z" } }),
    });
    const mode = screen.getByLabelText("Who may create an account") as HTMLSelectElement;
    await waitFor(() => expect(mode.value).toBe("closed"));
    const section = screen.getByRole("region", { name: "Registration" });
    const save = within(section).getByRole("button", { name: "Save" });
    expect(save).toHaveProperty("disabled", true);
    fireEvent.change(mode, { target: { value: "invite" } });
    fireEvent.click(save);
    expect(await within(section).findByText("Saved.")).toBeTruthy();
    expect(calls[0].body).toEqual({ mode: "invite" });

    fireEvent.change(screen.getByLabelText(/Expires in \(hours\)/), { target: { value: "48" } });
    fireEvent.click(screen.getByRole("button", { name: "Create invite code" }));
    expect(((await screen.findByLabelText("Invite code")) as HTMLInputElement).value).toBe("INV-42");
    expect(calls[1].body).toEqual({ expires_in_hours: 48 });
  });

  it("creates teams and adds and removes members", async () => {
    const calls: Call[] = [];
    let teams: Team[] = [{ id: "t1", name: "support", members: [{ id: "u-bob", username: "bob" }] }];
    await admin({
      "GET /api/v1/users": () => ({ body: [user("alice", { id: "u-alice" }), user("bob"), user("carol")] }),
      "GET /api/v1/teams": () => ({ body: teams }),
      "POST /api/v1/teams": (c) => {
        calls.push(c);
        teams = [...teams, { id: "t2", name: "sales", members: [] }];
        return { status: 201, body: teams[1] };
      },
      "POST /api/v1/teams/t1/members": (c) => {
        calls.push(c);
        teams = [{ ...teams[0], members: [...teams[0].members, { id: "u-carol", username: "carol" }] }, ...teams.slice(1)];
        return { body: teams[0] };
      },
      "DELETE /api/v1/teams/t1/members/u-bob": (c) => {
        calls.push(c);
        teams = [{ ...teams[0], members: teams[0].members.filter((m) => m.id !== "u-bob") }, ...teams.slice(1)];
        return { status: 204 };
      },
    });
    const support = await screen.findByTestId("team-support");
    await waitFor(() => expect((within(support).getByLabelText("Add a member to support") as HTMLSelectElement).options.length).toBe(3));
    fireEvent.change(screen.getByLabelText("Team name"), { target: { value: "sales" } });
    fireEvent.click(screen.getByRole("button", { name: "Create team" }));
    expect(await screen.findByTestId("team-sales")).toBeTruthy();
    expect(calls[0].body).toEqual({ name: "sales" });
    fireEvent.change(within(support).getByLabelText("Add a member to support"), { target: { value: "u-carol" } });
    fireEvent.click(within(support).getByRole("button", { name: "Add" }));
    expect(await within(support).findByText(/carol/, { selector: "li" })).toBeTruthy();
    expect(calls[1].body).toEqual({ user_id: "u-carol" });
    fireEvent.click(within(support).getByRole("button", { name: "Remove bob from support" }));
    await waitFor(() => expect(within(support).queryByRole("button", { name: "Remove bob from support" })).toBeNull());
    expect(calls[2].method).toBe("DELETE");
  });

  it("grants a source root to a user or team, lists and deletes it", async () => {
    const calls: Call[] = [];
    let roots: SourceRoot[] = [{ id: "r1", path: "/srv/a", user_id: "u-bob", team_id: null, created_at: "2026-11-30T10:00:00Z" }];
    await admin({
      "GET /api/v1/users": () => ({ body: [user("bob")] }),
      "GET /api/v1/teams": () => ({ body: [{ id: "t1", name: "support", members: [] }] }),
      "GET /api/v1/source-roots": () => ({ body: roots }),
      "POST /api/v1/source-roots": (c) => {
        calls.push(c);
        const made = { id: "r2", path: "/srv/b", user_id: null, team_id: "t1", created_at: "2026-11-30T10:00:00Z" };
        roots = [...roots, made];
        return { status: 201, body: made };
      },
      "DELETE /api/v1/source-roots/r1": (c) => {
        calls.push(c);
        roots = roots.filter((r) => r.id !== "r1");
        return { status: 204 };
      },
    });
    const table = await screen.findByRole("table", { name: "Source roots" });
    await waitFor(() => expect(within(table).getByText("bob (user)")).toBeTruthy());
    fireEvent.change(screen.getByLabelText("Path on the server"), { target: { value: "/srv/b" } });
    fireEvent.change(screen.getByLabelText("Granted to"), { target: { value: "team:t1" } });
    fireEvent.click(screen.getByRole("button", { name: "Grant path" }));
    expect(await within(table).findByText("support (team)")).toBeTruthy();
    expect(calls[0].body).toEqual({ path: "/srv/b", team_id: "t1" });
    fireEvent.click(within(table).getByRole("button", { name: "Delete the grant of /srv/a to bob (user)" }));
    await waitFor(() => expect(within(table).queryByText("/srv/a")).toBeNull());
  });
});

describe("API keys", () => {
  it("creates a key shown once with a copy button, lists and revokes keys", async () => {
    const calls: Call[] = [];
    let keys: ApiKey[] = [{ id: "k1", name: "old", scopes: ["search"], collection_ids: null, expires_at: null, created_at: "2026-11-30T10:00:00Z" }];
    const written: string[] = [];
    Object.defineProperty(navigator, "clipboard", { value: { writeText: async (t: string) => void written.push(t) }, configurable: true });
    const h = await started({
      ...routes([mine, viewing]),
      "GET /api/v1/api-keys": () => ({ body: keys }),
      "POST /api/v1/api-keys": (c) => {
        calls.push(c);
        const made = { id: "k2", name: "report", scopes: ["search", "read"] as ApiKey["scopes"], collection_ids: [mine.id], expires_at: "2026-12-30T10:00:00Z", created_at: "2026-11-30T10:00:00Z" };
        keys = [...keys, made];
        return { status: 201, body: { ...made, key: "smk_secret" } };
      },
      "DELETE /api/v1/api-keys/k1": (c) => {
        calls.push(c);
        keys = keys.filter((k) => k.id !== "k1");
        return { status: 204 };
      },
    });
    fireEvent.click(within(screen.getByRole("navigation", { name: "Main" })).getByRole("link", { name: "API keys" }));
    expect(h.store.getState().route).toEqual({ name: "keys" });
    const table = await screen.findByRole("table", { name: "Your keys" });
    expect(within(table).getByTestId("key-old").textContent).toContain("all you can reach");
    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "report" } });
    fireEvent.click(screen.getByLabelText(/^read:/));
    fireEvent.click(screen.getByLabelText("Only some collections"));
    const create = screen.getByRole("button", { name: "Create key" });
    expect(create).toHaveProperty("disabled", true);
    fireEvent.click(screen.getByLabelText("Allow notes"));
    fireEvent.change(screen.getByLabelText(/Expires after \(days\)/), { target: { value: "30" } });
    fireEvent.click(create);
    const shown = (await screen.findByLabelText("API key")) as HTMLInputElement;
    expect(shown.value).toBe("smk_secret");
    expect(screen.getByText(/it is shown only this once/)).toBeTruthy();
    expect(calls[0].body).toEqual({ name: "report", scopes: ["search", "read"], collection_ids: [mine.id], expires_in_days: 30 });
    fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    expect(await screen.findByRole("button", { name: "Copied" })).toBeTruthy();
    expect(written).toEqual(["smk_secret"]);
    expect((await within(table).findByTestId("key-report")).textContent).toContain("notes");
    fireEvent.click(screen.getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByLabelText("API key")).toBeNull();

    fireEvent.click(within(table).getByRole("button", { name: "Revoke old" }));
    fireEvent.click(within(table).getByRole("button", { name: "Keep" }));
    fireEvent.click(within(table).getByRole("button", { name: "Revoke old" }));
    fireEvent.click(within(table).getByRole("button", { name: "Revoke now" }));
    await waitFor(() => expect(within(table).queryByTestId("key-old")).toBeNull());
    expect(calls[1].method).toBe("DELETE");
  });

  it("shows a refusal and an empty list", async () => {
    const h = await started({
      ...routes([]),
      "GET /api/v1/api-keys": () => ({ body: [] }),
      "POST /api/v1/api-keys": () => ({ status: 422, body: { detail: "scopes: at least one" } }),
    });
    act(() => h.store.getState().navigate({ name: "keys" }));
    expect(await screen.findByText("No keys yet.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "x" } });
    fireEvent.click(screen.getByLabelText("Only some collections"));
    expect(screen.getByText("You have no collections.")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Only some collections"));
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(await screen.findByText("scopes: at least one")).toBeTruthy();
  });
});
