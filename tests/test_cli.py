"""The `sitaware` console command: help, createuser, audit verify, serve and worker (issue 2, CLI)."""

from __future__ import annotations

import getpass
import io
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tasks import task

from sitaware.cli import main

OUR_COMMANDS = [
    "serve", "worker", "migrate", "demo", "createuser",
    "import", "export", "audit verify", "indicators recompute", "forecast evaluate",
    "detect run", "triage run", "plans list", "ingest poll", "tak serve",
]


@task()
def add_numbers(a: int, b: int) -> int:
    return a + b


def test_help_lists_our_commands_first_with_one_line_each():
    done = subprocess.run([sys.executable, "-m", "sitaware.cli", "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = lines.index("Commands:") + 1
    listed = lines[start:start + len(OUR_COMMANDS)]
    for line, command in zip(listed, OUR_COMMANDS, strict=True):
        assert line.startswith(f"  {command} "), line
        summary = line[len(command) + 2:].strip()
        assert summary.endswith(".") and len(summary) > 20, line
    assert lines[start + len(OUR_COMMANDS)] == ""
    assert "sitaware help <django command>" in done.stdout


@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "demo", "createuser", "import", "export", "audit"])
def test_each_command_explains_itself_with_help(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([command, "--help"])
    assert stopped.value.code == 0
    assert f"usage: sitaware {command}" in capsys.readouterr().out


def test_audit_verify_has_its_own_help(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["audit", "verify", "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "usage: sitaware audit verify" in out and "--no-progress" in out


def test_an_unknown_command_fails_with_a_message(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["no-such-command"])
    assert stopped.value.code == 1
    assert "Unknown command: 'no-such-command'" in capsys.readouterr().err


# ---------------------------------------------------------------- createuser


def _createuser(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    extra = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command("createuser", *args, stdout=out, **extra)
    return out.getvalue()


def test_createuser_creates_a_membership_and_logs_it_as_the_console_operator(world):
    from django.contrib.auth import get_user_model

    from sitaware.core.models import ChangeEntry, Membership

    out = _createuser("nina", "--org", "unpol", "--unit", "bria", "--role", "analyst", "--clearance",
                      "confidential", "--no-password")
    user = get_user_model().objects.get(username="nina")
    membership = Membership.objects.get(user=user)
    assert (membership.organisation, membership.unit, membership.role, membership.clearance) == (
        world.unpol, world.bria, "analyst", 2)
    assert not user.has_usable_password() and not user.is_superuser
    entry = ChangeEntry.objects.get(action="user.create", object_id=str(user.pk))
    assert entry.actor_label == f"console:{getpass.getuser()}" and entry.actor is None
    assert entry.payload["after"] == {"username": "nina", "organisation": "unpol", "unit": "bria",
                                      "role": "analyst", "clearance": "confidential"}
    assert "Created nina: analyst in unpol/bria, clearance confidential." in out


def test_createuser_rejects_an_unknown_role_naming_the_roles(world):
    from django.contrib.auth import get_user_model

    from sitaware.core.models import ChangeEntry

    with pytest.raises(CommandError, match=r"unknown role 'chief'; use one of reporter, analyst, supervisor"):
        _createuser("nina", "--org", "unpol", "--role", "chief", "--no-password")
    assert not get_user_model().objects.filter(username="nina").exists()
    assert not ChangeEntry.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "unmiss", "--role", "analyst"], r"no organisation 'unmiss'; known organisations: hsp, unpol"),
        (["--org", "unpol", "--unit", "juba", "--role", "analyst"],
         r"no unit 'juba' in unpol; its units: bangui-hq, bria"),
        (["--org", "unpol", "--role", "analyst", "--clearance", "top_secret"], r"unknown sensitivity 'top_secret'"),
        (["--org", "unpol", "--unit", "cnp-bangui", "--role", "analyst"], r"no unit 'cnp-bangui' in unpol"),
    ],
)
def test_createuser_names_what_is_wrong_with_the_organisation_unit_or_clearance(world, args, message):
    with pytest.raises(CommandError, match=message):
        _createuser("nina", *args, "--no-password")


def test_createuser_refuses_a_taken_username_and_a_weak_password(world):
    with pytest.raises(CommandError, match="the username 'rita' is taken"):
        _createuser("rita", "--org", "unpol", "--role", "analyst", "--no-password")
    with pytest.raises(CommandError, match="password refused"):
        _createuser("nina", "--org", "unpol", "--role", "analyst", "--password-stdin", stdin="password\n")


def test_createuser_reads_the_password_from_stdin_and_prints_a_token_once(world):
    from django.contrib.auth import get_user_model

    from sitaware.core.services import authenticate_token

    out = _createuser("nina", "--org", "hsp", "--role", "reporter", "--password-stdin", "--token", "sensor-1",
                      stdin="a long enough passphrase\n")
    user = get_user_model().objects.get(username="nina")
    assert user.check_password("a long enough passphrase")
    secret = out.split("(shown once; keep it safe): ")[1].strip()
    assert authenticate_token(secret) == user


def test_createuser_superuser_gets_admin_access_and_the_grant_is_logged(world):
    from django.contrib.auth import get_user_model

    from sitaware.core.models import ChangeEntry

    _createuser("root2", "--org", "unpol", "--role", "administrator", "--no-password", "--superuser")
    user = get_user_model().objects.get(username="root2")
    assert user.is_superuser and user.is_staff
    assert list(ChangeEntry.objects.order_by("seq").values_list("action", flat=True)) == [
        "user.create", "user.superuser"]


# ---------------------------------------------------------------- audit verify


def test_audit_verify_passes_on_a_good_chain(world, make_record):
    for _ in range(3):
        make_record()
    out = io.StringIO()
    call_command("audit", "verify", "--no-progress", stdout=out)
    assert "Checked 3 of 3 change-log entries" in out.getvalue() and "The chain holds." in out.getvalue()


def test_audit_verify_exits_1_naming_the_entry_altered_with_raw_sql(world, make_record):
    from sitaware.core.models import ChangeEntry

    records = [make_record() for _ in range(4)]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_changeentry SET data = %s WHERE seq = %s", ['{"after":{"title":"forged"}}', 3])
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("audit", "verify", "--no-progress", stdout=out)
    assert failed.value.returncode == 1
    message = str(failed.value)
    assert "entry seq 3 " in message and "action record.create" in message
    assert f"object record:{records[2].id}" in message
    assert ChangeEntry.objects.get(seq=3).at.isoformat() in message
    assert "does not match its hash" in message
    assert "Checked 2 of 4" in out.getvalue()


# ---------------------------------------------------------------- serve and worker


@pytest.mark.parametrize("command, args", [("serve", []), ("demo", ["--records", "0"]),
                                           ("createuser", ["someone", "--org", "unpol", "--unit", "hq",
                                                           "--role", "reporter", "--no-password"])])
def test_commands_that_use_the_database_refuse_to_run_with_unapplied_migrations(db, monkeypatch, command, args):
    from sitaware.core import readiness

    monkeypatch.setattr(readiness, "unapplied_migrations", lambda: ["records.0002_future"])
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not serve"))
    with pytest.raises(CommandError, match=r"1 unapplied migration\(s\), e.g. records.0002_future; run "
                                           r"`sitaware migrate` first"):
        call_command(command, *args, stdout=io.StringIO())


def test_a_migrated_database_has_no_unapplied_migrations(db):
    from sitaware.core.readiness import unapplied_migrations

    assert unapplied_migrations() == []


def test_serve_collects_static_runs_uvicorn_and_a_worker_thread_it_stops_afterwards(transactional_db, monkeypatch,
                                                                                      settings, tmp_path):
    import threading

    settings.STATIC_ROOT = tmp_path / "static"
    settings.SITAWARE_INPROCESS_WORKER = True
    seen: dict = {}

    def fake_run(app, **kwargs):
        seen.update(kwargs, app=app, threads=[t.name for t in threading.enumerate()])

    monkeypatch.setattr("uvicorn.run", fake_run)
    out = io.StringIO()
    call_command("serve", "--host", "127.0.0.1", "--port", "8123", "--workers", "2", stdout=out)
    assert seen["app"] == "sitaware.asgi:application"
    assert (seen["host"], seen["port"], seen["workers"]) == ("127.0.0.1", 8123, 2)
    assert "sitaware-worker" in seen["threads"]
    assert "sitaware-worker" not in [t.name for t in threading.enumerate()]
    assert (tmp_path / "static" / "admin" / "css" / "base.css").exists()
    assert "sitaware is serving http://127.0.0.1:8123/" in out.getvalue()


def _wait_for(result, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result.refresh()
        if result.is_finished:
            return result
        time.sleep(0.05)
    pytest.fail("the task did not finish")


def test_the_in_process_worker_runs_queued_tasks_and_stops_cleanly(transactional_db):
    from sitaware.core.management.commands.serve import InProcessWorker

    background = InProcessWorker(interval=0.05)
    background.start()
    try:
        result = _wait_for(add_numbers.enqueue(2, 3))
    finally:
        stopped = background.stop(timeout=10)
    assert result.return_value == 5
    assert stopped and not background.thread.is_alive()


def test_worker_batch_runs_what_is_queued_then_exits(transactional_db):
    result = add_numbers.enqueue(20, 22)
    out = io.StringIO()
    call_command("worker", "--batch", "--no-startup-delay", "--no-reload", stdout=out)
    result.refresh()
    assert result.return_value == 42
    assert "sitaware worker" in out.getvalue() and "queues *" in out.getvalue()
    assert "until the queue is empty" in out.getvalue()
