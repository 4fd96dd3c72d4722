/** Client routes (the gateway answers index.html for each of them). */

export type Route =
  | { name: "dashboard" }
  | { name: "search" }
  | { name: "operations" }
  | { name: "admin" }
  | { name: "keys" }
  | { name: "webhooks" }
  | { name: "collection"; id: string; tab: Tab };

export const TABS = ["overview", "operations", "files", "settings"] as const;
export type Tab = (typeof TABS)[number];

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean);
  if (parts[0] === "search") return { name: "search" };
  if (parts[0] === "operations") return { name: "operations" };
  if (parts[0] === "admin") return { name: "admin" };
  if (parts[0] === "api-keys") return { name: "keys" };
  if (parts[0] === "webhooks") return { name: "webhooks" };
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
  }
}
