#!/usr/bin/env python3
"""Checks and merges the benchmark's JSON files, and plots them with gnuplot.

  report.py [--check] [--mode full|quick|smoke] --out DIR FILE.json...

--check fails (exit 1) when a file is not well-formed: every row must name its group, kind,
wait and payload, and carry finite, positive figures; in smoke mode a row that did not run
fails too, so the harness and every peer row keep working. Writes DIR/all.json and, outside
smoke mode, DIR/latency.png (round trip against payload) and DIR/throughput.png.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys

KINDS = {"round_trip", "stream", "loop"}
WAITS = {"busy", "blocking", "adaptive"}


def problems_in(row):
    where = f"{row.get('group', '?')} / {row.get('name', '?')} / {row.get('payload', '?')} B"
    for key in ("group", "kind", "name", "wait", "payload", "ratio", "samples"):
        if key not in row:
            yield f"{where}: no '{key}'"
    if row.get("kind") not in KINDS:
        yield f"{where}: kind {row.get('kind')!r} unknown"
    if row.get("wait") not in WAITS:
        yield f"{where}: wait {row.get('wait')!r} unknown"
    if "error" in row:
        return
    figures = []
    if row.get("kind") == "round_trip":
        figures = [row.get("round_trip_ns", {}).get(p) for p in ("p50", "p90", "p99", "p99.9", "max")]
        if None not in figures and figures != sorted(figures):
            yield f"{where}: percentiles out of order {figures}"
    elif row.get("kind") == "stream":
        figures = [row.get("messages_per_s"), row.get("bytes_per_s")]
    elif row.get("kind") == "loop":
        figures = [row.get("ns_per_op")]
    figures.append(row.get("ratio"))
    if "second_ratio" in row:  # a second reference column ("x shm://")
        figures.append(row["second_ratio"])
    for value in figures:
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            yield f"{where}: figure {value!r} is not a positive number"
    if not isinstance(row.get("samples"), int) or row["samples"] <= 0:
        yield f"{where}: no samples"


def plot(rows, out):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("report: gnuplot not found; no plots")
        return
    sweep = {}
    for row in rows:
        if row["kind"] == "round_trip" and "sweep" in row["group"].lower() and "error" not in row:
            label = f"{row['name']} [{row['wait']}]"
            sweep.setdefault(label, []).append((row["payload"], row["round_trip_ns"]["p50"] / 1000))
    script = []
    if sweep:
        data = os.path.join(out, "latency.dat")
        with open(data, "w") as f:
            for label, points in sweep.items():
                f.write(f'"{label}"\n')
                for payload, micros in sorted(points):
                    f.write(f"{payload} {micros}\n")
                f.write("\n\n")
        plots = ", ".join(f"'{data}' index {i} with linespoints title columnheader(1)"
                          for i in range(len(sweep)))
        script += [
            "set terminal pngcairo size 1000,600 noenhanced" if has_cairo(gnuplot)
            else "set terminal png size 1000,600 noenhanced",
            f"set output '{os.path.join(out, 'latency.png')}'",
            "set title 'Round trip p50 against payload (log-log)'",
            "set logscale xy", "set xlabel 'payload (bytes)'", "set ylabel 'round trip p50 (us)'",
            "set key top left", "set grid", f"plot {plots}", "unset logscale",
        ]
    streams = [r for r in rows if r["kind"] == "stream" and "error" not in r]
    if streams:
        data = os.path.join(out, "throughput.dat")
        with open(data, "w") as f:
            for r in streams:
                f.write(f"\"{r['name']} {r['payload']} B\" {r['messages_per_s'] / 1e6}\n")
        script += [
            "set terminal png size 1100,600 noenhanced",
            f"set output '{os.path.join(out, 'throughput.png')}'",
            "set title 'Streaming throughput (million messages per second)'",
            "set style data histograms", "set style fill solid", "set boxwidth 0.8",
            "set xtics rotate by -45", "set ylabel 'M msg/s'", "set grid ytics", "unset logscale",
            f"plot '{data}' using 2:xtic(1) notitle",
        ]
    if script:
        subprocess.run([gnuplot], input="\n".join(script) + "\n", text=True, check=True)
        print(f"report: plots in {out}")


def has_cairo(gnuplot):
    result = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (result.stdout + result.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--mode", default="full")
    parser.add_argument("--out", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    rows, problems, machine = [], [], None
    for path in args.files:
        try:
            with open(path) as f:
                document = json.load(f)
        except (OSError, ValueError) as error:
            problems.append(f"{path}: {error}")
            continue
        machine = machine or document.get("machine")
        if not document.get("machine") or not isinstance(document.get("rows"), list):
            problems.append(f"{path}: no machine or no rows")
            continue
        if not document["rows"]:
            problems.append(f"{path}: empty")
        for row in document["rows"]:
            problems += [f"{path}: {p}" for p in problems_in(row)]
            if args.mode == "smoke" and "error" in row:
                problems.append(f"{path}: {row['group']} / {row['name']}: did not run: {row['error']}")
        rows += document["rows"]

    with open(os.path.join(args.out, "all.json"), "w") as f:
        json.dump({"machine": machine, "rows": rows}, f, indent=2)
    if args.mode != "smoke":
        plot(rows, args.out)
    print(f"report: {len(rows)} rows from {len(args.files)} file(s) in {args.out}/all.json")
    if args.check and problems:
        print("report: problems:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
