"""`textback set-password OWNER`: an owner's login for the inbox (docs/inbox.md).
The password is asked twice without echo, or read from stdin for scripts;
the store keeps only its argon2 hash."""

from __future__ import annotations

import sys

import click

from bridge.cli.common import EXIT_USAGE, config_option, console, fail, load, main, with_store
from bridge.store import WebStore
from bridge.web.passwords import hash_password, password_problem


@main.command("set-password")
@config_option
@click.argument("owner_id", metavar="OWNER")
@click.option(
    "--password-stdin", is_flag=True,
    help="Read the password from the first line of stdin (for scripts).",
)  # fmt: skip
def set_password(config_path: str, owner_id: str, password_stdin: bool) -> None:
    """Set OWNER's password for the inbox (an owner id from the config)."""
    config = load(config_path)
    owner = next((o for o in config.owners if o.id == owner_id), None)
    if owner is None:
        known = ", ".join(o.id for o in config.owners) or "none"
        fail(f"no owner {owner_id!r} in {config_path} (owners: {known})", EXIT_USAGE)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"New inbox password for {owner.name}", hide_input=True, confirmation_prompt=True
        )
    problem = password_problem(password)
    if problem is not None:
        fail(problem, EXIT_USAGE)
    hashed = hash_password(password)

    async def store_it(store: WebStore) -> None:
        await store.set_password_hash(owner.id, hashed)

    with_store(config, store_it, writes=True)
    web = "" if config.web else " (the inbox is off: add a web: section to the config)"
    console.print(f"password set for {owner.id}{web}")
