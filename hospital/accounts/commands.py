"""Operator commands for accounts and devices: each runs as one unit of work."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from hospital.accounts.models import STAFF_ROLES, DeviceKind, Role
from hospital.db import db, utcnow
from hospital.errors import DomainError
from hospital.organisation.models import Hospital
from hospital.unit_of_work import unit_of_work


def _hospital(code: str) -> Hospital:
    hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == code))
    if hospital is None:
        raise click.ClickException(f"There is no hospital with the code {code!r}.")
    return hospital


def _fail(error: DomainError) -> click.ClickException:
    return click.ClickException(f"{error.message} ({error.code})")


@click.command("create-staff")
@click.option("--hospital", "hospital_code", required=True, help="The hospital's code.")
@click.option("--username", required=True, help="Lower-case letters, digits and . _ -")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(sorted(r.value for r in STAFF_ROLES)),
    help="A staff role; repeat for several.",
)
@click.option("--name", "display_name", required=True, help="The person's name as shown.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given.",
)
@with_appcontext
def create_staff(
    hospital_code: str, username: str, roles: tuple[str, ...], display_name: str, password: str
) -> None:
    """Create a staff account."""
    from hospital.accounts.services import staff

    try:
        with unit_of_work():
            account = staff.create_staff(
                _hospital(hospital_code),
                username=username,
                password=password,
                roles=[Role(r) for r in roles],
                display_name=display_name,
                now=utcnow(),
            )
            account_id, name = account.id, account.username
    except DomainError as error:
        raise _fail(error) from None
    click.echo(f"Created staff account {name} (id {account_id}).")


@click.command("disable-account")
@click.option("--id", "account_id", required=True, type=int, help="The account's id.")
@click.option("--reason", required=True, help="Why, for the audit log.")
@with_appcontext
def disable_account(account_id: int, reason: str) -> None:
    """Disable an account and end all its sessions at once."""
    from hospital.accounts.services import disabling

    try:
        with unit_of_work():
            disabling.disable_account(
                actor=None, account_id=account_id, reason=reason, now=utcnow()
            )
    except DomainError as error:
        raise _fail(error) from None
    click.echo(f"Disabled account {account_id}; its sessions have ended.")


@click.command("create-device")
@click.option("--hospital", "hospital_code", required=True, help="The hospital's code.")
@click.option(
    "--kind", required=True, type=click.Choice([k.value for k in DeviceKind]), help="Device kind."
)
@click.option("--name", required=True, help="A name staff recognise, e.g. 'Kiosk 1, hall A'.")
@click.option("--location", default="", help="Where the device stands.")
@click.option("--service-point-id", type=int, default=None, help="The room or counter it serves.")
@with_appcontext
def create_device(
    hospital_code: str, kind: str, name: str, location: str, service_point_id: int | None
) -> None:
    """Register a kiosk, display board or lab system and print its token (shown only once)."""
    from hospital.accounts.services import devices

    try:
        with unit_of_work():
            device, token = devices.register_device(
                actor=None,
                kind=DeviceKind(kind),
                name=name,
                location=location,
                service_point_id=service_point_id,
                now=utcnow(),
                hospital=_hospital(hospital_code),
            )
            device_id = device.id
    except DomainError as error:
        raise _fail(error) from None
    click.echo(f"Registered device {device_id}. Its token (shown only now):")
    click.echo(token)
