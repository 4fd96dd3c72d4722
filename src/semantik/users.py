"""``semantik users``: the instance's accounts, managed over the admin API (SPEC §11) as
the local operator account (or ``--username``), against a running Semantik."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from .client import SemantikClient, UserAdmin
from .commands import report_errors, sign_in

COLUMNS = ("username", "email", "role", "status", "created_at")


def _row(user: UserAdmin) -> dict[str, str]:
    return {
        "username": user.username,
        "email": user.email or "",
        "role": "admin" if user.is_admin else "user",
        "status": "disabled" if user.disabled else "active",
        "created_at": user.created_at.isoformat()[:19],
    }


def table(users: list[UserAdmin]) -> str:
    rows = [_row(user) for user in users]
    widths = {c: max([len(c), *(len(row[c]) for row in rows)]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(row[c].ljust(widths[c]) for c in COLUMNS).rstrip() for row in rows]
    return "\n".join(lines)


def new_password(args: argparse.Namespace) -> str:
    """From --password, else one line of stdin (--password-stdin), else asked twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.new_password:
        return str(args.new_password)
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("error: the passwords differ")
    return first


async def _user(client: SemantikClient, name: str) -> UserAdmin | None:
    return next((user for user in await client.list_users() if user.username == name), None)


@report_errors
async def list_users(args: argparse.Namespace) -> int:
    async with SemantikClient(args.url) as client:
        await sign_in(client, args)
        print(table(await client.list_users()))
    return 0


@report_errors
async def create_user(args: argparse.Namespace) -> int:
    password = new_password(args)
    async with SemantikClient(args.url) as client:
        await sign_in(client, args)
        user = await client.create_user(args.name, password, is_admin=args.admin)
    print(f"created {user.username} ({'admin' if user.is_admin else 'user'})")
    return 0


def change(field: str, value: bool, done: str) -> Any:
    """A command that sets one field of a named user (disable, enable, promote)."""

    @report_errors
    async def command(args: argparse.Namespace) -> int:
        async with SemantikClient(args.url) as client:
            await sign_in(client, args)
            user = await _user(client, args.name)
            if user is None:
                print(f"error: no user named {args.name!r}", file=sys.stderr)
                return 1
            changed: dict[str, bool | None] = {"is_admin": None, "disabled": None, field: value}
            await client.update_user(
                user.id, is_admin=changed["is_admin"], disabled=changed["disabled"]
            )
        print(f"{done} {args.name}")
        return 0

    return command


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    client_options: Callable[..., None],
) -> None:
    """``semantik users …``; ``--as``/``--as-password`` sign in (``--password`` is the
    new account's), by default as the local operator account."""
    users = commands.add_parser("users", help="the instance's accounts (admin)")
    actions = users.add_subparsers(dest="users", required=True)
    listing = actions.add_parser("list", help="every account, as a table")
    listing.set_defaults(func=list_users)
    create = actions.add_parser("create", help="a new account")
    create.add_argument("name", metavar="USERNAME")
    given = create.add_mutually_exclusive_group()
    given.add_argument("--password", dest="new_password", help="else asked for")
    given.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    create.add_argument("--admin", action="store_true", help="an instance admin")
    create.set_defaults(func=create_user)
    for name, field, value, done in (
        ("disable", "disabled", True, "disabled"),
        ("enable", "disabled", False, "enabled"),
        ("promote", "is_admin", True, "promoted to admin:"),
        ("demote", "is_admin", False, "no longer admin:"),
    ):
        action = actions.add_parser(name, help=f"{name} an account")
        action.add_argument("name", metavar="USERNAME")
        action.set_defaults(func=change(field, value, done))
    for action in actions.choices.values():
        client_options(action, account=("--as", "--as-password"))
