"""Operator commands for accounts (being built)."""

import click


@click.command("create-staff")
def create_staff() -> None:
    """Create a staff account."""


@click.command("disable-account")
def disable_account() -> None:
    """Disable an account."""
