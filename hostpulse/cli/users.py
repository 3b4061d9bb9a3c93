"""`hostpulse users`: who may sign in to the dashboard, and as what."""

from __future__ import annotations

import argparse
import getpass
import sys

from hostpulse.cli.agents import database_url
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.services.accounts.service import AccountError, Accounts, Role
from hostpulse.wiring.by_url import account_admin

ROLES = [role.value for role in Role]


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    users = commands.add_parser("users", help="dashboard users: add, list, passwords, roles")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a user who may sign in to the dashboard")
    add.add_argument("name")
    add.add_argument(
        "--role",
        choices=ROLES,
        default=Role.VIEWER.value,
        help="viewer: reads; operator: also changes alert rules; admin: everything the admin"
        " token may do (default: viewer)",
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    passwd = actions.add_parser("passwd", help="set a new password (ends the user's sign-ins)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    role = actions.add_parser("role", help="change a user's role (ends the user's sign-ins)")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    actions.add_parser("list", help="every user and role")
    remove = actions.add_parser("remove", help="remove a user and end their sign-ins")
    remove.add_argument("name")


def read_password(from_stdin: bool) -> str:
    """From standard input (one line), or asked twice on the terminal, never echoed."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise AccountError("the two passwords differ")
    return password


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    accounts = account_admin(database_url(settings))
    try:
        return act(args, accounts)
    except AccountError as error:
        print(f"hostpulse: error: {error}")
        return 1


def act(args: argparse.Namespace, accounts: Accounts) -> int:
    if args.action == "add":
        user = accounts.add_user(args.name, read_password(args.password_stdin), Role(args.role))
        print(f"hostpulse: user {user.name!r} added as {user.role}")
    elif args.action == "passwd":
        accounts.set_password(args.name, read_password(args.password_stdin))
        print(f"hostpulse: new password for {args.name!r}; their sign-ins ended")
    elif args.action == "role":
        accounts.set_role(args.name, Role(args.role))
        print(f"hostpulse: {args.name!r} is now {args.role}; their sign-ins ended")
    elif args.action == "list":
        print(f"{'USER':40} ROLE")
        for user in accounts.store.users():
            print(f"{user.name:40} {user.role}")
    else:
        accounts.remove_user(args.name)
        print(f"hostpulse: user {args.name!r} removed")
    return 0
