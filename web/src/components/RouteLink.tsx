import type { ReactNode } from "react";
import { useApp } from "../context";
import { pathOf, type Route } from "../lib/router";

/** A link to a client route: its address for a new tab, the store's navigation on a click. */
export function RouteLink({ route, className, children }: { route: Route; className?: string; children: ReactNode }) {
  const navigate = useApp((s) => s.navigate);
  return (
    <a
      href={pathOf(route)}
      className={className}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(route);
      }}
    >
      {children}
    </a>
  );
}
