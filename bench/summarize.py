#!/usr/bin/env python3
"""Reads bench/run.sh's results (round, workload, target, wrk output with '|' for newlines)
and prints a Markdown table: median req/s and latency per target and workload, the spread
across rounds, and the ratios vhostd/other taken within each round. With --chart-data FILE
it also writes, per workload, each target's median throughput relative to direct (gnuplot).
With --front-cost FILE (round, connections, vhostd CPU seconds, vhostd system calls, worker
system calls; "-" where perf could not count) it prints the front's cost per connection, and
with --floor-cost FILE (round, connections, bench/handoff_floor's CPU seconds) the floor beside it."""
import re
import statistics
import sys
from collections import defaultdict

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def latency_ms(text, percentile):
    match = re.search(r"\|\s+%s%%\s+([\d.]+)(us|ms|s)\|" % percentile, text)
    return float(match.group(1)) * UNITS[match.group(2)] if match else float("nan")


def parse(path):
    runs = defaultdict(dict)  # (round, workload) -> target -> measures
    for line in open(path):
        round_, workload, target, output = line.rstrip("\n").split("\t", 3)
        rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
        errors = re.search(r"Socket errors: (.*?)\|", output)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        runs[(round_, workload)][target] = {
            "rps": float(rate.group(1)) if rate else 0.0,
            "p50": latency_ms(output, 50),
            "p99": latency_ms(output, 99),
            "errors": (errors.group(1) if errors else "") + (f" non-2xx {non2xx.group(1)}" if non2xx else ""),
        }
    return runs


def main(path, chart_data=None):
    runs = parse(path)
    chart_rows = []
    order = ["keepalive", "close", "websocket", "https-keepalive", "https-close", "node-keepalive", "node-close"]
    workloads = sorted({w for _, w in runs}, key=order.index)
    targets = ["direct", "vhostd", "passthrough", "nginx", "haproxy", "node-vhostd", "node-cluster"]
    for workload in workloads:
        rounds = [targets_ for (r, w), targets_ in sorted(runs.items()) if w == workload]
        print(f"### {workload}  ({len(rounds)} rounds)\n")
        print("| target | req/s (median) | min–max | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|")
        for target in targets:
            values = [r[target] for r in rounds if target in r]
            if not values:
                continue
            rates = [v["rps"] for v in values]
            errors = "; ".join(sorted({v["errors"] for v in values if v["errors"]})) or "none"
            print(f"| {target} | {statistics.median(rates):,.0f} | {min(rates):,.0f}–{max(rates):,.0f} | "
                  f"{statistics.median(v['p50'] for v in values):.3f} | {statistics.median(v['p99'] for v in values):.3f} | {errors} |")
        print()
        medians = {t: statistics.median(r[t]["rps"] for r in rounds if t in r) for t in targets if any(t in r for r in rounds)}
        if medians.get("direct"):
            chart_rows.append(f"{workload} " + " ".join(f"{medians.get(t, 0) / medians['direct']:.3f}" for t in ["direct", "vhostd", "nginx", "haproxy"]))
        for mine, other in [("vhostd", "direct"), ("vhostd", "nginx"), ("vhostd", "haproxy"), ("passthrough", "nginx"), ("vhostd", "passthrough"),
                            ("node-vhostd", "node-cluster")]:
            ratios = [r[mine]["rps"] / r[other]["rps"] for r in rounds if r.get(mine, {}).get("rps") and r.get(other, {}).get("rps")]
            if ratios:
                print(f"- {mine}/{other}: median {statistics.median(ratios):.2f} (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
        print()


    if chart_data:
        with open(chart_data, "w") as out:
            out.write("# workload " + " ".join(targets) + "\n" + "\n".join(chart_rows) + "\n")


def rows_of(path):
    return [line.rstrip("\n").split("\t") for line in open(path) if line.strip()] if path else []


def front_cost(path, floor_path):
    floor = {round_: (int(n), float(cpu)) for round_, n, cpu in rows_of(floor_path) if n.isdigit() and int(n) > 0}
    print("### front cost, new connection per request (vhostd target)\n")
    print("The floor is bench/handoff_floor under the same load: accept, one peek, the handoff and the")
    print("ack with nothing else, so its CPU is the kernel's share of a handoff on this machine.\n")
    print("| round | connections | vhostd CPU µs / connection | floor CPU µs / connection | vhostd syscalls / connection | worker syscalls / connection |")
    print("|---|---|---|---|---|---|")
    for round_, connections, cpu, front_calls, worker_calls in rows_of(path):
        n = int(connections or 0)
        per = lambda calls: f"{int(calls) / n:.1f}" if n and calls.isdigit() else "–"
        floor_per = f"{floor[round_][1] * 1e6 / floor[round_][0]:.1f}" if round_ in floor else "–"
        print(f"| {round_} | {n:,} | {float(cpu) * 1e6 / n:.1f} | {floor_per} | {per(front_calls)} | {per(worker_calls)} |" if n else f"| {round_} | 0 | – | – | – | – |")
    print()


if __name__ == "__main__":
    arguments = sys.argv[2:]
    option = lambda name: arguments[arguments.index(name) + 1] if name in arguments else None
    main(sys.argv[1], option("--chart-data"))
    if option("--front-cost"):
        front_cost(option("--front-cost"), option("--floor-cost"))
