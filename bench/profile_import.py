"""Where the time of one bulk_upsert batch goes (cProfile, sorted by own time), on a scratch SQLite store.

    python -m bench.profile_import --rows 9000

The shares it prints are what docs/performance.md cites when it explains the import figure.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

from bench import common


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--rows", type=int, default=9000)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    common.reset_database(args.backend, "profile")
    common.setup_django(args.backend, "profile")
    from bench.generate import RecordGenerator
    from bench.world import ensure_world
    from sitaware.records.bulk import bulk_upsert

    actor = ensure_world().actor("unpol-importer")
    rows = list(RecordGenerator("unpol", seed=1).rows(0, args.rows + 1000))
    bulk_upsert(actor, rows[:1000])  # warm caches (taxonomy, units, prepared statements)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    bulk_upsert(actor, rows[1000:])
    profile.disable()
    elapsed = time.perf_counter() - started
    print(f"{args.rows:,} rows in {elapsed:.2f} s under the profiler = {args.rows / elapsed:,.0f} rows/s "
          f"(load {list(os.getloadavg())})")
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
