"""What every benchmark shares: a private database per backend, machine facts, percentiles, results files."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULT_DATA_DIR = Path(os.environ.get("SITAWARE_BENCH_DIR") or Path(tempfile.gettempdir()) / "sw-bench")
PG_URL = os.environ.get("SITAWARE_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
BACKENDS = ("sqlite", "postgresql")


def data_dir(backend: str, name: str) -> Path:
    return DEFAULT_DATA_DIR / f"{name}-{backend}"


def pg_database(name: str) -> str:
    return f"sw_bench_{name}"


def database_url(backend: str, name: str) -> str | None:
    return f"{PG_URL}/{pg_database(name)}" if backend == "postgresql" else None


def reset_database(backend: str, name: str) -> None:
    """A fresh, empty database for one benchmark: a new SQLite file or a recreated PostgreSQL database."""
    folder = data_dir(backend, name)
    if backend == "sqlite":
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        return
    import psycopg

    folder.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{pg_database(name)}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{pg_database(name)}"')


def configure_env(backend: str, name: str) -> dict[str, str]:
    """Environment for this process (and servers it starts) to use the benchmark's own database."""
    env = {
        "SITAWARE_DATA_DIR": str(data_dir(backend, name)),
        "DJANGO_SETTINGS_MODULE": "sitaware.settings",
        "SITAWARE_INPROCESS_WORKER": "0",
        "SITAWARE_LOG_LEVEL": "WARNING",
    }
    url = database_url(backend, name)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("SITAWARE_DATABASE_URL", None)
    if url:
        env["DATABASE_URL"] = url
    os.environ.update(env)
    return env


def setup_django(backend: str, name: str, *, migrate: bool = True) -> None:
    configure_env(backend, name)
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def machine_facts(backend: str | None = None) -> dict[str, Any]:
    import sqlite3

    facts: dict[str, Any] = {
        "taken_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "src", "bench")),
    }
    if backend == "postgresql":
        try:
            import psycopg

            with psycopg.connect(f"{PG_URL}/postgres") as conn:
                facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
                for setting in ("shared_buffers", "synchronous_commit", "work_mem", "max_wal_size"):
                    facts[f"pg_{setting}"] = conn.execute(f"SHOW {setting}").fetchone()[0]
        except Exception as exc:  # facts are best effort
            facts["postgresql"] = f"unknown ({exc})"
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 by the nearest-rank method (no interpolation flattering the tail)."""
    if not samples_ms:
        return {"n": 0}
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))
        return round(ordered[index], 2)

    return {
        "n": len(ordered),
        "p50_ms": rank(50),
        "p95_ms": rank(95),
        "p99_ms": rank(99),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def write_result(name: str, backend: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{backend}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    return path
