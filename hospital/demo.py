"""Demo hospital (being built)."""

import click


@click.command("seed-demo")
def seed_demo() -> None:
    """Seed the demo hospital."""
