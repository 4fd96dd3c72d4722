/**
 * What a collection role allows in the UI (SPEC §11). The gateway refuses anyway; the UI
 * only hides what would be refused. A gateway that does not send `my_role` is one without
 * access control, where the caller owns what they see.
 */
import type { Collection, Role } from "./types";

const RANK: Record<Role, number> = { viewer: 0, editor: 1, owner: 2 };

export function roleOf(c: Pick<Collection, "my_role">): Role {
  return c.my_role ?? "owner";
}

/** Add, change and remove sources; index, reindex, cancel operations. */
export function canEdit(c: Pick<Collection, "my_role">): boolean {
  return RANK[roleOf(c)] >= RANK.editor;
}

/** Rename, describe, delete, manage access. */
export function isOwner(c: Pick<Collection, "my_role">): boolean {
  return roleOf(c) === "owner";
}

