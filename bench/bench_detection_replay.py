"""Replay of the detectors over the Central African Republic, 2012-2014, week by week as if live.

Run: python -m bench.bench_detection_replay [--quick] [--replicates N]
Writes bench/results/detection-replay.json (or -quick.json).

Every Monday from 2012-07-02 to 2014-12-29 the three detectors of bench_detection_power (scan, per-prefecture
surge, per-slice Gi*) run on UCDP GED events dated before that Monday only, with the thresholds calibrated there
on quiet CAR stretches (at most one alarm per 100 analyses). The scan also gets its Monte Carlo p-value
(999 replicates by default). The weeks around three escalations are reported: the Seleka advance from
10 December 2012, the fall of Bangui on 24 March 2013 and the anti-balaka attack on Bangui on 5 December 2013.

"As if live" is only about the analysis: the data are UCDP GED 23.1, compiled afterwards, so reporting delays
and events that were only known later are not replayed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

import numpy as np

from bench import bench_detection_power as power
from bench.common import REPO, RESULTS, machine_facts, write_result

sys.path.insert(0, str(REPO / "src"))

from sitaware.analytics.detection.scan import space_time_permutation_scan

START, END = dt.date(2012, 7, 2), dt.date(2014, 12, 29)
ESCALATIONS = (
    (
        "Seleka advance (Ndele 10 Dec 2012, then Bria, Bambari, Kaga-Bandoro, Sibut, Damara)",
        dt.date(2012, 12, 10),
        (
            "Bamingui-Bangoran province",
            "Haute-Kotto province",
            "Ouaka province",
            "Nana-Grébizi province",
            "Kémo province",
            "Vakaga province",
            "Ombella-M'Poko province",
        ),
    ),
    ("Seleka take Bangui (24 Mar 2013)", dt.date(2013, 3, 24), ("Bangui province", "Ombella-M'Poko province")),
    ("anti-balaka attack on Bangui (5 Dec 2013)", dt.date(2013, 12, 5), ("Bangui province", "Ombella-M'Poko province")),
)
WINDOW_WEEKS = 12  # an escalation counts as detected by a matching alarm within 12 weeks of its onset


def thresholds() -> tuple[dict[str, float], str]:
    for name in ("detection-power-full.json", "detection-power-quick.json"):
        path = RESULTS / name
        if path.exists():
            data = json.loads(path.read_text())
            car = data.get("datasets", {}).get("car_ucdp_ged")
            if car:
                return car["calibration"]["thresholds"], f"bench/results/{name}"
    return {}, ""


def zone_facts(ds: power.Dataset, cells: np.ndarray, first_day: dt.date, day: dt.date) -> dict[str, Any]:
    centre = ds.cell_centres[cells].mean(axis=0)
    ev = ds.events
    inside = ev[ev.cell.isin(cells) & (ev.date >= str(first_day)) & (ev.date < str(day))]
    admin = inside.adm_1.value_counts()
    return {
        "centre_lon": round(float(centre[0]), 2),
        "centre_lat": round(float(centre[1]), 2),
        "admin1": [str(a).replace(" province", "") for a in admin.index[:3]],
        "cells": len(cells),
    }


def markdown(payload: dict[str, Any]) -> str:
    """The docs tables: first alarms per escalation, then the weeks around each onset."""
    names = {"scan": "scan", "surge": "surge (prefecture)", "gi": "Gi*"}
    lines = [
        "| escalation | onset | " + " | ".join(f"first matching alarm: {names[d]}" for d in power.DETECTORS) + " |",
        "|---|---|---|---|---|",
    ]
    for e in payload["escalations"]:
        cells = [f"{e[d]['date']} (+{e[d]['days_after_onset']} d)" if e[d] else "none" for d in power.DETECTORS]
        lines.append(f"| {e['escalation']} | {e['onset']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| analysis date | events in the week | scan: zone centre (admin1) | obs / exp | window | score | p "
        "| scan alarm | surge alarms: prefecture obs/exp | Gi* max z (alarm: admin1) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = payload["weeks"]
    for _, onset, _ in ESCALATIONS:
        for row in rows:
            day = dt.date.fromisoformat(row["date"])
            if not (onset - dt.timedelta(weeks=3) <= day <= onset + dt.timedelta(weeks=8)):
                continue
            sc = row.get("scan")
            if sc:
                scan = (
                    f"{sc['centre_lat']:.2f}N {sc['centre_lon']:.2f}E ({', '.join(sc['admin1']) or '-'}) | "
                    f"{sc['observed']} / {sc['expected']:.1f} | {sc['window_weeks']} wk | {sc['score']:.1f} | "
                    f"{sc['p']:.3f} | "
                    f"{'**yes**' if sc['alarm'] else 'no'}"
                )
            else:
                scan = "- | - | - | - | - | no"
            surge = "; ".join(f"{a['admin1']} {a['observed']}/{a['expected']:.1f}" for a in row["surge"]["areas"])
            gi = row["gi"]
            gtext = f"{gi['max_z']:.1f}" + (f" (**{', '.join(gi['admin1'])}**)" if gi["alarm"] else "")
            lines.append(f"| {row['date']} | {row['events_last_week']} | {scan} | {surge or '-'} | {gtext} |")
        lines.append("| | | | | | | | | | |")
    return "\n".join(lines[:-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="99 replicates")
    parser.add_argument("--replicates", type=int, default=None)
    parser.add_argument("--markdown", action="store_true", help="only print the docs tables from the results file")
    args = parser.parse_args(argv)
    if args.markdown:
        mode = "quick" if args.quick else "full"
        print(markdown(json.loads((RESULTS / f"detection-replay-{mode}.json").read_text())))
        return
    replicates = args.replicates or (99 if args.quick else 999)
    facts = machine_facts()
    t0, c0 = time.perf_counter(), time.process_time()
    ds = power.load_car()
    origin = ds.origins[0]
    weeks = [t for t in range(ds.counts[0].shape[0]) if START <= origin + dt.timedelta(days=7 * (t + 1)) <= END]
    calibrated, source = thresholds()
    if not calibrated:  # no power run yet: calibrate here (same code, same quiet stretches)
        power.prepare(ds)
        calibrated = power.calibrate(ds, power.Scanner(ds), 0, 1)["thresholds"]
        source = "calibrated in this run"
    ds.analysis_weeks = {0: weeks}
    power.prepare(ds)  # surge baselines for the replay weeks (each uses only earlier weeks)
    scanner = power.Scanner(ds)
    counts = ds.counts[0]
    rows = []
    for t in weeks:
        day = origin + dt.timedelta(days=7 * (t + 1))  # analysis day: events before it are known
        out = power.analyse(ds, scanner, 0, t)
        window = counts[t - ds.history + 1 : t + 1]
        row: dict[str, Any] = {
            "date": str(day),
            "events_last_week": int(window[-1].sum()),
            "events_last_52_weeks": int(window.sum()),
        }
        if scanner.mlc(window)[0] > 0.0:  # else no candidate exceeds its expectation (and scan.py would fail)
            res = space_time_permutation_scan(
                window, ds.zones, max_window=power.MAX_WINDOW, n_replicates=replicates, seed=t, n_secondary=3
            )
            mlc = res.most_likely
            first_day = day - dt.timedelta(days=7 * mlc.window)
            row["scan"] = {
                "alarm": mlc.score > calibrated["scan"],
                "score": round(mlc.score, 2),
                "observed": mlc.observed,
                "expected": round(mlc.expected, 2),
                "observed_over_expected": round(mlc.observed_over_expected, 2),
                "p": mlc.p_value,
                "window_weeks": mlc.window,
                **zone_facts(ds, np.asarray(mlc.cells), first_day, day),
            }
        p = out["surge"]
        areas = sorted(
            {ds.area_names[a] for a in ds.area_of_cell[-np.log10(np.maximum(p, 1e-300)) > calibrated["surge"]]}
        )
        week_area = np.bincount(ds.area_of_cell, weights=window[-1], minlength=len(ds.area_names))
        mu = ds.surge_mu[0][t]
        row["surge"] = {
            "alarm": bool(areas),
            "min_p": float(p.min()),
            "areas": [
                {
                    "admin1": a.replace(" province", ""),
                    "observed": int(week_area[ds.area_names.index(a)]),
                    "expected": round(float(mu[ds.area_names.index(a)]), 2),
                }
                for a in areas
            ],
        }
        z = out["gi"]
        hot = np.flatnonzero(z > calibrated["gi"])
        row["gi"] = {"alarm": bool(hot.size), "max_z": round(float(z.max()), 2)}
        if hot.size:
            row["gi"].update(zone_facts(ds, hot, day - dt.timedelta(days=7), day))
        rows.append(row)
    summary = []
    for label, onset, admin in ESCALATIONS:
        entry: dict[str, Any] = {"escalation": label, "onset": str(onset)}
        short = {a.replace(" province", "") for a in admin}
        for d in power.DETECTORS:
            first = None
            for row in rows:
                day = dt.date.fromisoformat(row["date"])
                if not (onset <= day <= onset + dt.timedelta(weeks=WINDOW_WEEKS)) or not row.get(d, {}).get("alarm"):
                    continue
                r = row[d]
                where = {x["admin1"] for x in r["areas"]} if d == "surge" else set(r.get("admin1", []))
                if where & short:
                    first = {"date": row["date"], "days_after_onset": (day - onset).days}
                    break
            entry[d] = first
        summary.append(entry)
        print(entry, flush=True)
    payload = {
        "benchmark": "detection-replay",
        "mode": "quick" if args.quick else "full",
        "machine": facts,
        "settings": {
            "from": str(START),
            "to": str(END),
            "analyses": len(rows),
            "scan_replicates": replicates,
            "thresholds": calibrated,
            "thresholds_from": source,
            "scan_history_weeks": ds.history,
            "max_window_weeks": power.MAX_WINDOW,
            "cells": len(ds.coords),
            "cell_size": ds.cell_size,
            "surge_areas": "prefectures (admin1)",
            "surge_settings": ds.surge_kwargs,
            "detection_rule": f"alarm naming one of the escalation's prefectures within {WINDOW_WEEKS} "
            "weeks after onset",
        },
        "escalations": summary,
        "weeks": rows,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - c0, 1),
    }
    print("wrote", write_result("detection-replay", payload["mode"], payload))


if __name__ == "__main__":
    main()
