"""Every foundation benchmark on both backends, then docs/performance.md from the results.

    python -m bench.run_all            # full: 1,000,000 records per backend (about an hour or more)
    python -m bench.run_all --quick    # a smoke run of each (a few minutes)
    python -m bench.run_all --report   # only rewrite docs/performance.md from bench/results/

PostgreSQL runs are skipped with a message when the server is unreachable. The list benchmark reads the
store the import benchmark filled, so the order matters.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from bench import common, report


def _pg_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(f"{common.PG_URL}/postgres", connect_timeout=3).close()
        return True
    except Exception as exc:  # any failure means: not here
        print(f"PostgreSQL at {common.PG_URL} is unreachable ({exc}); its benchmarks are skipped")
        return False


def _run(module: str, *args: str) -> None:
    command = [sys.executable, "-m", f"bench.{module}", *args]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=common.REPO, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--report", action="store_true", help="only write docs/performance.md")
    parser.add_argument("--backend", choices=common.BACKENDS, action="append", help="default: both")
    args = parser.parse_args(argv)
    if not args.report:
        quick = ["--quick"] if args.quick else []
        for backend in args.backend or common.BACKENDS:
            if backend == "postgresql" and not _pg_reachable():
                continue
            _run("bench_import", "--backend", backend, *quick)
            _run("bench_list", "--backend", backend, *quick)
            _run("bench_api", "--backend", backend, *quick)
    path = report.write()
    print(f"summary: {path.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
