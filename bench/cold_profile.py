"""Where a cold start goes: ``python -m bench.cold_profile [--sink https] [--runs 7]``.

Not part of ``make bench``. In the same deployment-sized environments and against the
same sinks as section 1, for cmclient and the stack floor (or ``--contenders ...``):

1. ``-X importtime``, ``--runs`` times each: the median self time of every module,
   summed by top-level package, side by side; then the modules cmclient imports that
   the stack floor does not, by median self time (what there is to cut), and the
   median total;
2. ``cProfile`` of one cold process of the first contender (imports, build, first
   call; with the profiler's own overhead): the top functions by cumulative and by
   own time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile  # noqa: F401  (checked to exist: the child runs it)
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench import boto_json, cold_start, common, envs, tls

_RE_COMPILE = r"re/__init__.py:\d+\(compile\)"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _importtime(name: str, url: str, sink: str, deployment: dict[str, envs.Env],
                certs: tls.Certificates) -> dict[str, float]:
    """Self time in ms of every module the contender's cold process imports."""
    script, kind, how = cold_start.CONTENDERS[name]
    env = common.child_env(AWS_DATA_PATH=boto_json.data_path(),
                           PYTHONPATH=str(deployment[kind].path))
    if sink == "https" and how:
        env.update(certs.env(how))
    done = subprocess.run(
        [deployment[kind].python, "-X", "importtime", str(cold_start.SCRIPTS / script), url],
        cwd=deployment[kind].prefix, env=env, capture_output=True, text=True, check=True,
    )
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            found[match.group(4)] = found.get(match.group(4), 0.0) + int(match.group(1)) / 1000
    return found


def _cprofile(name: str, url: str, sink: str, deployment: dict[str, envs.Env],
              certs: tls.Certificates, top: int) -> str:
    script, kind, how = cold_start.CONTENDERS[name]
    env = common.child_env(AWS_DATA_PATH=boto_json.data_path(),
                           PYTHONPATH=str(deployment[kind].path))
    if sink == "https" and how:
        env.update(certs.env(how))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cold.prof"
        subprocess.run(
            [deployment[kind].python, "-m", "cProfile", "-o", str(out),
             str(cold_start.SCRIPTS / script), url],
            cwd=deployment[kind].prefix, env=env, capture_output=True, check=True,
        )
        site = next(deployment[kind].prefix.glob("lib/python*/site-packages"))
        stdlib = Path(pstats.__file__).parent
        text = []
        for title, key, restrict, callers in (
            ("by cumulative time", "cumulative", (), None),
            ("by own time", "tottime", (), None),
            ("cmclient's own functions, by cumulative time", "cumulative", ("cmclient/",), None),
            ("who compiles regular expressions", "cumulative", (), _RE_COMPILE),
        ):
            stream = _Stream()
            stats = pstats.Stats(str(out), stream=stream)  # type: ignore[arg-type]
            stats.sort_stats(key)
            if callers:
                stats.print_callers(callers)
            else:
                stats.print_stats(*restrict, top)
            body = _trim(stream.text).replace(f"{site}/", "").replace(f"{stdlib}/", "")
            text.append(f"--- {title} ---\n{body}")
        return "\n".join(text)


class _Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, data: str) -> None:
        self.text += data


def _trim(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if "ncalls" in line or "was called by" in line), 0)
    return "\n".join(lines[start:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sink", choices=("http", "https"), default="https")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--contenders", nargs="+", default=["cmclient", "stack_floor"],
                        choices=[n for n in cold_start.CONTENDERS if n != "python"])
    args = parser.parse_args(argv)
    names = args.contenders
    deployment = envs.prepare(note=lambda text: print(text, file=sys.stderr))
    with contextlib.ExitStack() as stack:
        certs = tls.make(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        url = stack.enter_context(common.sink(
            certs.server_pem if args.sink == "https" else None,
            args.delay_ms if args.sink == "https" else 0.0))
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for order in common.rotations(names, args.runs):
            for name in order:
                samples[name].append(_importtime(name, url, args.sink, deployment, certs))
        profile = _cprofile(names[0], url, args.sink, deployment, certs, args.top)

    median: dict[str, dict[str, float]] = {}
    for name, runs in samples.items():
        modules = set().union(*runs)
        median[name] = {m: statistics.median(run.get(m, 0.0) for run in runs) for m in modules}
    print(f"-X importtime, {args.sink} sink, median of {args.runs} runs: self ms by top-level "
          "package (the script's own imports included)")
    by_package: dict[str, dict[str, float]] = {}
    for name in names:
        sums: dict[str, float] = defaultdict(float)
        for module, ms in median[name].items():
            sums[module.split(".")[0]] += ms
        by_package[name] = sums
    packages = sorted(set().union(*by_package.values()),
                      key=lambda p: -max(by_package[n].get(p, 0.0) for n in names))
    print(f"   {'package':28}" + "".join(f"{n:>14}" for n in names))
    for package in packages[: args.top]:
        print(f"   {package:28}" + "".join(
            f"{by_package[n].get(package, 0.0):>14.1f}" for n in names))
    print(f"   {'total':28}" + "".join(
        f"{sum(median[n].values()):>14.1f}" for n in names))
    print(f"   {'modules':28}" + "".join(f"{len(median[n]):>14}" for n in names))
    if len(names) > 1:
        first, other = names[0], names[1]
        extra = {m: ms for m, ms in median[first].items() if m not in median[other]}
        print(f"\nmodules {first} imports that {other} does not: {len(extra)}, "
              f"{sum(extra.values()):.1f} ms self time; the largest:")
        for module, ms in sorted(extra.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"   {ms:8.2f}  {module}")
        missing = {m: ms for m, ms in median[other].items() if m not in median[first]}
        print(f"modules {other} imports that {first} does not: {len(missing)}, "
              f"{sum(missing.values()):.1f} ms: {', '.join(sorted(missing)[:40])}")
    print(f"\ncProfile of one cold {names[0]} process ({args.sink} sink)")
    print(profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
