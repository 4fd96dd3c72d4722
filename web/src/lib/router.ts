/** Client routes (the gateway answers index.html for each of them). */

export type Route =
  | { name: "dashboard" }
  | { name: "search" }
  | { name: "operations" }
  | { name: "admin" }
  | { name: "keys" }
  | { name: "webhooks" }
  | { name: "collection"; id: string; tab: Tab }
  /** A document of a collection; `chunk` is the index of the chunk to show (a result's). */
  | { name: "document"; id: string; documentId: string; chunk: number | null };

export const TABS = ["overview", "sources", "operations", "files", "settings"] as const;
export type Tab = (typeof TABS)[number];

/** The route of a location's path, with its query string (`?chunk=3`) if it has one. */
export function parseRoute(location: string): Route {
  const [pathname, query = ""] = location.split("?", 2);
  const parts = pathname.split("/").filter(Boolean);
  if (parts[0] === "search") return { name: "search" };
  if (parts[0] === "operations") return { name: "operations" };
  if (parts[0] === "admin") return { name: "admin" };
  if (parts[0] === "api-keys") return { name: "keys" };
  if (parts[0] === "webhooks") return { name: "webhooks" };
  if (parts[0] === "collections" && parts[1] && parts[2] === "documents" && parts[3]) {
    const chunk = new URLSearchParams(query).get("chunk");
    const index = chunk !== null && /^\d{1,9}$/.test(chunk) ? Number(chunk) : null;
    return { name: "document", id: decodeURIComponent(parts[1]), documentId: decodeURIComponent(parts[3]), chunk: index };
  }
  if (parts[0] === "collections" && parts[1]) {
    const tab = (TABS as readonly string[]).includes(parts[2] ?? "") ? (parts[2] as Tab) : "overview";
    return { name: "collection", id: parts[1], tab };
  }
  return { name: "dashboard" };
}

export function pathOf(route: Route): string {
  switch (route.name) {
    case "dashboard":
      return "/";
    case "search":
      return "/search";
    case "operations":
      return "/operations";
    case "admin":
      return "/admin";
    case "keys":
      return "/api-keys";
    case "webhooks":
      return "/webhooks";
    case "collection":
      return route.tab === "overview"
        ? `/collections/${route.id}`
        : `/collections/${route.id}/${route.tab}`;
    case "document": {
      const path = `/collections/${encodeURIComponent(route.id)}/documents/${encodeURIComponent(route.documentId)}`;
      return route.chunk === null ? path : `${path}?chunk=${route.chunk}`;
    }
  }
}
