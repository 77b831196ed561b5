"""`sitaware createuser`: an account with its organisation, unit, role and clearance, logged like any write."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role, Sensitivity
from sitaware.core.models import Organisation, Unit
from sitaware.core.readiness import require_migrated
from sitaware.core.scope import system_actor
from sitaware.core.services import create_token, create_user


def console_actor_label() -> str:
    """Whoever sits at the console acts under their OS account name, so the log says who it was."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return f"console:{who}"


class Command(BaseCommand):
    help = "Create an account: organisation, unit, role and clearance, optionally an API token."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--org", required=True, metavar="CODE", help="Organisation code, e.g. unpol.")
        parser.add_argument("--unit", metavar="CODE", help="Unit code within the organisation, e.g. bangui-hq.")
        parser.add_argument("--role", required=True, help=f"One of: {', '.join(Role.values)}.")
        parser.add_argument(
            "--clearance",
            default="restricted",
            help="Highest sensitivity the user may read: public, restricted, confidential, "
            "strictly_confidential (or 0-3). Default: restricted.",
        )
        parser.add_argument("--email", default="")
        password = parser.add_mutually_exclusive_group()
        password.add_argument("--password-stdin", action="store_true",
                              help="Read the password from the first line of standard input.")
        password.add_argument("--no-password", action="store_true",
                              help="No password: the account signs in with API tokens only.")
        parser.add_argument("--token", metavar="NAME", help="Also make an API token with this name; its secret "
                            "is printed once.")
        parser.add_argument("--superuser", action="store_true",
                            help="Allow Django admin access (staff and superuser). Use sparingly.")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        organisation = _organisation(options["org"])
        unit = _unit(organisation, options["unit"])
        role = options["role"]
        if role not in Role.values:
            raise CommandError(f"unknown role {role!r}; use one of {', '.join(Role.values)}")
        try:
            clearance = Sensitivity.parse(options["clearance"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        password = self._password(options)
        actor = system_actor(console_actor_label())
        try:
            with transaction.atomic():
                user = create_user(actor, username=options["username"], password=password,
                                   organisation=organisation, role=role, clearance=clearance, unit=unit,
                                   email=options["email"])
                if options["superuser"]:
                    _grant_superuser(user, actor.label, organisation)
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        where = f"{organisation.code}/{unit.code}" if unit else organisation.code
        self.stdout.write(self.style.SUCCESS(
            f"Created {user.get_username()}: {role} in {where}, clearance {Sensitivity.slug(clearance)}"
            + (", Django admin access" if options["superuser"] else "") + "."
        ))
        if options["token"]:
            secret = create_token(user, options["token"])
            self.stdout.write(f"API token {options['token']!r} (shown once; keep it safe): {secret}")

    def _password(self, options: dict[str, Any]) -> str | None:
        if options["no_password"]:
            return None
        if options["password_stdin"]:
            stream = options.get("stdin") or sys.stdin
            password = stream.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin read an empty line; pipe the password in, e.g. "
                                   "`printf '%s\\n' \"$PW\" | sitaware createuser ...`")
            return password
        if not sys.stdin.isatty():
            raise CommandError("no terminal to ask for a password: use --password-stdin or --no-password")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
        return first


def _organisation(code: str) -> Organisation:
    found = Organisation.objects.filter(code=code).first()
    if found is None:
        known = ", ".join(Organisation.objects.order_by("code").values_list("code", flat=True)) or "none yet"
        raise CommandError(f"no organisation {code!r}; known organisations: {known}")
    return found


def _unit(organisation: Organisation, code: str | None) -> Unit | None:
    if code is None:
        return None
    found = Unit.objects.filter(organisation=organisation, code=code).first()
    if found is None:
        known = ", ".join(organisation.units.order_by("code").values_list("code", flat=True)) or "none yet"
        raise CommandError(f"no unit {code!r} in {organisation.code}; its units: {known}")
    return found


def _grant_superuser(user: Any, actor_label: str, organisation: Organisation) -> None:
    user.is_staff = True
    user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    changelog.append(
        [PendingEntry(action="user.superuser", object_type="user", object_id=str(user.pk),
                      before={"is_superuser": False}, after={"is_superuser": True},
                      organisation_id=organisation.pk)],
        actor_id=None,
        actor_label=actor_label,
    )
