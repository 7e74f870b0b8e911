"""``python -m bench [--quick] [--out PATH] [--only SECTION ...]``: run the benchmark,
write the figures to JSON and print them with the goals, PASS or MISS."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import cold_start, common, concurrency, memory, mock_server, signing, warm

SECTIONS = ("cold", "warm", "async", "signing", "memory", "mock")

FULL = {
    "cold": {"runs": 25},
    "warm": {"rounds": 15, "calls": 400},
    "async": {"levels": (1, 64, 256), "rounds": 4, "requests": 3000, "seconds": 1.0},
    "signing": {"rounds": 15, "calls": 5000},
    "memory": {"runs": 5, "clients": 100},
    "mock": {"rounds": 6, "seconds": 1.0},
}
QUICK = {
    "cold": {"runs": 1},
    "warm": {"rounds": 2, "calls": 50},
    "async": {"levels": (1, 64), "rounds": 1, "requests": 300, "seconds": 0.2},
    "signing": {"rounds": 2, "calls": 500},
    "memory": {"runs": 1, "clients": 20},
    "mock": {"rounds": 1, "seconds": 0.2},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args(argv)
    params = QUICK if args.quick else FULL

    results: dict[str, Any] = {
        "meta": {
            "quick": args.quick,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "versions": _versions(),
            "load_average_before": common.load_average(),
            "params": {name: params[name] for name in args.only},
        }
    }
    started = time.perf_counter()
    with common.sink() as url:
        for name in args.only:
            section_started = time.perf_counter()
            _note(f"{name} ...")
            results[name] = _run_section(name, url, params[name])
            results[name]["seconds"] = round(time.perf_counter() - section_started, 1)
    results["meta"]["load_average_after"] = common.load_average()
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    results["goals"] = evaluate(results)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(report(results))
    print(f"\nfigures written to {args.out} in {results['meta']['seconds']} s")
    return 0


def _run_section(name: str, url: str, p: dict[str, Any]) -> dict[str, Any]:
    if name == "cold":
        return cold_start.run(url, p["runs"])
    if name == "warm":
        return warm.run(url, p["rounds"], p["calls"])
    if name == "async":
        return concurrency.run(url, p["levels"], p["rounds"], p["requests"], p["seconds"])
    if name == "signing":
        return signing.run(p["rounds"], p["calls"])
    if name == "memory":
        return memory.run(url, p["runs"], p["clients"])
    return mock_server.run(p["rounds"], p["seconds"])


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("cmclient", "httpx", "httpcore", "h11", "pydantic", "pydantic-core",
                    "boto3", "botocore"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _median(results: dict[str, Any], *path: str) -> float | None:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node["median"]) if isinstance(node, dict) and "median" in node else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def evaluate(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal as (name, measured value, limit, PASS/MISS); missing sections are skipped."""
    goals: list[tuple[str, float | None, str, float]] = []
    cm_wall = _median(r, "cold", "cmclient", "wall_ms")
    goals.append(("cold start wall: cmclient / boto3", _ratio(
        cm_wall, _median(r, "cold", "boto3", "wall_ms")), "<=", 0.6))
    goals.append(("cold start wall: cmclient / floor", _ratio(
        cm_wall, _median(r, "cold", "floor", "wall_ms")), "<=", 1.2))
    goals.append(("cold start peak RSS: cmclient / boto3", _ratio(
        _median(r, "cold", "cmclient", "peak_rss_mib"),
        _median(r, "cold", "boto3", "peak_rss_mib")), "<=", 0.75))
    goals.append(("warm sync call: cmclient / floor", _ratio(
        _median(r, "warm", "cmclient"), _median(r, "warm", "floor")), "<=", 1.15))
    cm_sign = _median(r, "signing", "cmclient")
    goals.append(("signing: cmclient us per signature", cm_sign, "<=", 8.0))
    goals.append(("signing: botocore / cmclient", _ratio(
        _median(r, "signing", "botocore"), cm_sign), ">=", 6.0))
    one = _median(r, "async", "1", "cmclient")
    for tasks in ("64", "256"):
        cm = _median(r, "async", tasks, "cmclient")
        goals.append((f"async {tasks} tasks: cmclient / httpx rps", _ratio(
            cm, _median(r, "async", tasks, "httpx")), ">=", 6.0))
        goals.append((f"async {tasks} tasks: cmclient rps / its rps at 1 task",
                      _ratio(cm, one), ">=", 1.0))
    clients = r.get("memory", {}).get("clients", 100)
    goals.append((f"{clients} clients RSS growth: cmclient / boto3", _ratio(
        _median(r, "memory", "cmclient", "called_kib"),
        _median(r, "memory", "boto3", "called_kib")), "<=", 0.2))
    out = []
    for name, value, op, limit in goals:
        if value is None:
            continue
        ok = value <= limit if op == "<=" else value >= limit
        out.append({"goal": name, "value": round(value, 3), "op": op, "limit": limit,
                    "status": "PASS" if ok else "MISS"})
    return out


def _fmt(s: dict[str, Any] | None, digits: int = 1) -> str:
    if not s:
        return "-"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"


def report(r: dict[str, Any]) -> str:
    lines: list[str] = []
    meta = r["meta"]
    lines.append(
        f"cmclient bench{' (quick)' if meta['quick'] else ''}: python {meta['python']}, "
        f"load average {meta['load_average_before'][0]:.2f} before, "
        f"{meta['load_average_after'][0]:.2f} after; median (min–max)"
    )
    if "cold" in r:
        lines.append("\n1. cold start (fresh process: import, build, one validated call)")
        lines.append(f"   {'':22} {'wall ms':>24} {'cpu ms':>24} {'peak RSS MiB':>22}")
        for name, row in r["cold"].items():
            if isinstance(row, dict) and "wall_ms" in row:
                lines.append(f"   {name:22} {_fmt(row['wall_ms']):>24} {_fmt(row['cpu_ms']):>24} "
                             f"{_fmt(row['peak_rss_mib']):>22}")
        split = "   split ms (import / build / call):"
        for name in ("cmclient", "boto3", "floor", "floor_pydantic", "floor_core"):
            row = r["cold"].get(name)
            if row:
                split += (f" {name} {row['import_ms']['median']:.0f}/"
                          f"{row['build_ms']['median']:.0f}/{row['call_ms']['median']:.0f}")
        lines.append(split)
        for name, what in (
            ("floor_pydantic", "its result validated into two minimal pydantic models"),
            ("floor_core", "the same validated by pydantic-core alone"),
        ):
            ratios = (_ratio(_median(r, "cold", name, "wall_ms"),
                             _median(r, "cold", "floor", "wall_ms")),
                      _ratio(_median(r, "cold", name, "wall_ms"),
                             _median(r, "cold", "boto3", "wall_ms")),
                      _ratio(_median(r, "cold", name, "peak_rss_mib"),
                             _median(r, "cold", "boto3", "peak_rss_mib")))
            if None not in ratios:
                lines.append(f"   {name} (the floor, {what}): {ratios[0]:.3f}x the floor, "
                             f"{ratios[1]:.3f}x boto3; peak RSS {ratios[2]:.3f}x boto3")
    if "warm" in r:
        lines.append("\n2. warm sync call, us per call")
        for name, row in r["warm"].items():
            if isinstance(row, dict) and "median" in row:
                lines.append(f"   {name:12} {_fmt(row):>28}")
    if "async" in r:
        lines.append("\n3. async throughput, requests per second (pool = tasks)")
        levels = [k for k in r["async"] if k.isdigit()]
        names = list(r["async"][levels[0]]) if levels else []
        lines.append("   " + f"{'':26}" + "".join(f"{t + ' tasks':>24}" for t in levels))
        for name in names:
            lines.append("   " + f"{name:26}" + "".join(
                f"{_fmt(r['async'][t][name], 0):>24}" for t in levels))
    if "signing" in r:
        lines.append("\n4. SigV4 signing, us per signature")
        for name, row in r["signing"].items():
            if isinstance(row, dict) and "median" in row:
                lines.append(f"   {name:12} {_fmt(row, 2):>28}")
    if "memory" in r:
        m = r["memory"]
        lines.append(f"\n5. RSS growth for {m['clients']} more clients, KiB")
        lines.append(f"   {'':24} {'built':>26} {'built + one call each':>26}")
        for name, row in m.items():
            if isinstance(row, dict) and "built_kib" in row:
                lines.append(f"   {name:24} {_fmt(row['built_kib'], 0):>26} "
                             f"{_fmt(row['called_kib'], 0):>26}")
    if "mock" in r:
        lines.append("\n6. cmclient.testing mock, describe calls per second")
        mock = r["mock"]
        if "skipped" in mock or "error" in mock:
            lines.append(f"   skipped: {mock.get('skipped') or mock.get('error')}")
        else:
            for name, row in mock.items():
                if isinstance(row, dict) and "median" in row:
                    lines.append(f"   {name:12} {_fmt(row, 0):>28}")
    if r.get("goals"):
        lines.append("\ngoals")
        for g in r["goals"]:
            lines.append(f"   {g['status']:4}  {g['goal']:48} {g['value']:>9.3f} "
                         f"{g['op']} {g['limit']}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
