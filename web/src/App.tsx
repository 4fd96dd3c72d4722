import { useEffect } from "react";
import { useApp, useAppStore } from "./context";
import { Notice } from "./components/bits";
import { parseRoute, pathOf, type Route } from "./lib/router";
import { isActive } from "./lib/text";
import { ActiveOperations } from "./screens/ActiveOperations";
import { Admin } from "./screens/Admin";
import { ApiKeys } from "./screens/ApiKeys";
import { CollectionDetails } from "./screens/CollectionDetails";
import { Dashboard } from "./screens/Dashboard";
import { DocumentView } from "./screens/DocumentView";
import { Login } from "./screens/Login";
import { Search } from "./screens/Search";
import { Webhooks } from "./screens/Webhooks";

const LIVE_LABEL = { open: "Live", connecting: "Reconnecting…", closed: "Offline" };

function NavLink({ route, current, children }: { route: Route; current: Route; children: string }) {
  const navigate = useApp((s) => s.navigate);
  const href = pathOf(route);
  const inCollection = current.name === "collection" || current.name === "document";
  const here = current.name === route.name || (route.name === "dashboard" && inCollection);
  return (
    <a
      href={href}
      aria-current={here ? "page" : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(route);
      }}
    >
      {children}
    </a>
  );
}

export function App() {
  const username = useApp((s) => s.username);
  const isAdmin = useApp((s) => s.me?.is_admin === true);
  const signedIn = useApp((s) => s.signedIn);
  const route = useApp((s) => s.route);
  const live = useApp((s) => s.live);
  const notice = useApp((s) => s.notice);
  const notify = useApp((s) => s.notify);
  const signOut = useApp((s) => s.signOut);
  const activeCount = useApp((s) => Object.values(s.operations).filter(isActive).length);

  const store = useAppStore();
  useEffect(() => {
    // Back and forward: the address is already there, only the view follows.
    const onPop = () => store.setState({ route: parseRoute(window.location.pathname + window.location.search) });
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, [store]);

  if (!username) {
    return signedIn ? <p className="page muted">Signing in…</p> : <Login />;
  }
  return (
    <>
      <a href="#main" className="skip">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Semantik</span>
        <nav aria-label="Main">
          <NavLink route={{ name: "dashboard" }} current={route}>Collections</NavLink>
          <NavLink route={{ name: "search" }} current={route}>Search</NavLink>
          <NavLink route={{ name: "operations" }} current={route}>
            {activeCount > 0 ? `Active operations (${activeCount})` : "Active operations"}
          </NavLink>
          <NavLink route={{ name: "keys" }} current={route}>API keys</NavLink>
          <NavLink route={{ name: "webhooks" }} current={route}>Webhooks</NavLink>
          {isAdmin && <NavLink route={{ name: "admin" }} current={route}>Admin</NavLink>}
        </nav>
        <span className={`live live-${live}`} role="status" aria-label={`Live updates: ${LIVE_LABEL[live]}`}>
          {LIVE_LABEL[live]}
        </span>
        <span className="user">{username}</span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      {notice && <Notice kind={notice.kind} text={notice.text} onClose={() => notify(null)} />}
      {route.name === "dashboard" && <Dashboard />}
      {route.name === "search" && <Search />}
      {route.name === "operations" && <ActiveOperations />}
      {route.name === "keys" && <ApiKeys />}
      {route.name === "webhooks" && <Webhooks />}
      {route.name === "admin" && (isAdmin ? <Admin /> : <main id="main" className="page"><p>Only administrators see this page.</p></main>)}
      {route.name === "collection" && <CollectionDetails id={route.id} tab={route.tab} />}
      {route.name === "document" && (
        <DocumentView key={`${route.id}/${route.documentId}`} collectionId={route.id} documentId={route.documentId} chunk={route.chunk} />
      )}
    </>
  );
}
