"""Collect the peer comparison's JSON lines and print them as one Markdown table.

usage: python3 table.py from-metrics --seed N METRICS_JSON
       python3 table.py print RESULTS_JSONL

`from-metrics` turns an outrange run's metrics.json into a line of the format the
peer scripts print. `print` reads such lines, one per framework and seed, and
prints the median over seeds per framework. A line with "failed": true stands
for a run that produced no result. Needs only the standard library.
"""

import argparse
import json
import statistics
import sys

REFERENCE = "outrange"
FRAMEWORK_ORDER = [REFERENCE, "keras", "torch", "jax"]


def metrics_line(metrics_path, seed):
    """Return the result line for one outrange run, read from its metrics.json."""
    with open(metrics_path, encoding="utf-8") as file:
        metrics = json.load(file)

    missing = [key for key in ("fit_seconds", "mse_in_range", "mse_out_of_range") if key not in metrics]
    if missing:
        raise ValueError(f"{metrics_path}: missing keys {', '.join(missing)}")
    return {
        "framework": REFERENCE,
        "version": metrics.get("outrange_version", "unknown"),
        "seed": seed,
        "fit_seconds": metrics["fit_seconds"],
        "mse_in_range": metrics["mse_in_range"],
        "mse_out_of_range": metrics["mse_out_of_range"],
    }


def read_lines(path):
    """Return the parsed JSON lines of `path`, skipping blank lines."""
    results = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                results.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: invalid JSON line: {error}") from error
    return results


def group_by_framework(results):
    """Return {framework: (successful results, failed run count)} in table order."""
    names = FRAMEWORK_ORDER + sorted({r["framework"] for r in results} - set(FRAMEWORK_ORDER))
    groups = {}
    for name in names:
        runs = [r for r in results if r["framework"] == name]
        successes = [r for r in runs if not r.get("failed")]
        groups[name] = (successes, len(runs) - len(successes))
    return groups


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def format_seconds(values):
    """Format fit times as 'median (min–max)'."""
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.3g}"
    return f"{median:.3g} ({min(values):.3g}–{max(values):.3g})"


def format_ratio(value):
    """Format a ratio with three significant digits, and above 1,000 as a whole number."""
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3g}"


def format_mse(value):
    return "n/a" if value is None else f"{value:.2e}"


def runs_cell(succeeded, failed):
    return f"{succeeded} ({failed} failed)" if failed else str(succeeded)


def table_rows(groups):
    """Return the table rows, with one row per timing that a framework reports."""
    reference_runs = groups.get(REFERENCE, ([], 0))[0]
    reference_median = median_or_none([r["fit_seconds"] for r in reference_runs])

    rows = []
    for name, (runs, failed) in groups.items():
        if not runs:
            if name == REFERENCE or failed:
                rows.append([name, "missing", "missing", "n/a", "missing", "missing", runs_cell(0, failed)])
            continue

        version = runs[0]["version"]
        mse_in = format_mse(median_or_none([r["mse_in_range"] for r in runs]))
        mse_out = format_mse(median_or_none([r["mse_out_of_range"] for r in runs]))
        timings = [("fit_seconds", name)]
        if any("fit_seconds_compiled" in r for r in runs):
            timings = [("fit_seconds", f"{name} (incl. compile)"), ("fit_seconds_compiled", f"{name} (compiled)")]

        for key, label in timings:
            seconds = [r[key] for r in runs if key in r]
            median = statistics.median(seconds)
            ratio = "n/a" if not reference_median else format_ratio(median / reference_median)
            rows.append([label, version, format_seconds(seconds), ratio, mse_in, mse_out, runs_cell(len(seconds), failed)])
    return rows


def print_table(results):
    header = [
        "framework",
        "version",
        "fit seconds, median (min–max)",
        "× outrange",
        "MSE in range, median",
        "MSE out of range, median",
        "runs",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in table_rows(group_by_framework(results)):
        print("| " + " | ".join(row) + " |")


def main():
    parser = argparse.ArgumentParser(description="Collect peer comparison results and print a Markdown table.")
    commands = parser.add_subparsers(dest="command", required=True)

    from_metrics = commands.add_parser("from-metrics", help="print an outrange metrics.json as a result line")
    from_metrics.add_argument("--seed", type=int, required=True, help="seed the outrange run used")
    from_metrics.add_argument("metrics", help="path of the run's metrics.json")

    print_command = commands.add_parser("print", help="print the Markdown table of a results file")
    print_command.add_argument("results", help="file with one JSON result line per run")

    args = parser.parse_args()
    try:
        if args.command == "from-metrics":
            print(json.dumps(metrics_line(args.metrics, args.seed)))
        else:
            print_table(read_lines(args.results))
    except (OSError, ValueError) as error:
        sys.exit(f"table.py: {error}")


if __name__ == "__main__":
    main()
