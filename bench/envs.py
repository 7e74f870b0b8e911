"""Deployment-sized virtual environments: each cold-start contender runs in a venv that
holds only its own runtime dependencies, as a Lambda package or a container image would.

* ``cmclient``: cmclient's runtime dependencies (httpx, pydantic, h11 and theirs) and
  cmclient itself, installed (not editable) from a wheel of the source tree as it is now;
* ``boto3``: boto3 and its dependencies;
* ``floor``: httpx and pydantic and theirs (every floor, and the bare interpreter).

No pip, setuptools or test tools in any of them: pydantic's plugin lookup walks every
installed distribution's entry points, so a venv full of test tools is not what users
ship. The environments are built offline, by pip from wheels that are the distributions
this venv already has installed, packed again from the files their RECORD lists (so
the versions, and the bytes, are exactly the ones the rest of the bench measures; no
registry is asked). They live under ``<venv>/bench-envs/``, keyed by a hash of the
interpreter and the versions installed, and are built once: a run finds them ready
(and reinstalls cmclient's wheel only when its source changed, about a second).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.common import ROOT

#: Bump to rebuild every environment (a change of how they are made).
RECIPE = 1
BASE = Path(sys.prefix) / "bench-envs"
WHEELS = BASE / "wheels"
COMPLETE = "bench-env-complete"

#: Each environment's top-level requirements (names of distributions installed here).
KINDS: dict[str, tuple[str, ...]] = {
    "cmclient": ("httpx", "pydantic", "h11"),  # plus cmclient's own wheel
    "boto3": ("boto3",),
    "floor": ("httpx", "pydantic"),
}


@dataclass(frozen=True)
class Env:
    kind: str
    prefix: Path
    #: What each child's PYTHONPATH is: a folder holding only a link to ``bench/``, so a
    #: cold script can import ``bench.floor`` without the checkout's ``cmclient/``
    #: shadowing the installed one.
    path: Path

    @property
    def python(self) -> str:
        return str(self.prefix / "bin" / "python")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need at run time (no extras), in order."""
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _canonical(todo.pop(0))
        if name in seen:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen.values(), key=lambda d: _canonical(d.metadata["Name"]))


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _wheel_name(dist: metadata.Distribution, wheel_meta: str) -> str:
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines()
            if line.startswith("Tag:")]
    parts: list[list[str]] = [[], [], []]
    for tag in tags:
        for i, piece in enumerate(tag.split("-")):
            if piece not in parts[i]:
                parts[i].append(piece)
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    return f"{name}-{dist.version}-{'-'.join('.'.join(p) for p in parts)}.whl"


def _write_wheel(target: Path, files: dict[str, bytes], info_dir: str) -> None:
    """A wheel of ``files`` (archive name to bytes), with a RECORD of their hashes."""
    rows = [(arc, _record_hash(data), str(len(data))) for arc, data in files.items()]
    rows.append((f"{info_dir}/RECORD", "", ""))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    files = {**files, f"{info_dir}/RECORD": out.getvalue().encode()}
    partial = target.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for arc, data in files.items():
            zf.writestr(arc, data)
    partial.replace(target)


def repack(dist: metadata.Distribution, into: Path) -> Path:
    """An installed distribution as a wheel again: the files its RECORD lists inside
    site-packages (scripts, which pip writes anew from entry points, and bytecode, which
    it compiles, left out), with the installer's own marks dropped."""
    info = next(p for p in dist.files or [] if p.name == "WHEEL" and p.parent.name.endswith(
        ".dist-info"))
    info_dir = info.parent.as_posix()
    target = into / _wheel_name(dist, dist.locate_file(info).read_text())
    if target.exists():
        return target
    skip = {f"{info_dir}/{n}" for n in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    files: dict[str, bytes] = {}
    for path in dist.files or []:
        arc = path.as_posix()
        if arc.startswith("../") or "__pycache__/" in arc or arc in skip:
            continue
        files[arc] = Path(dist.locate_file(path)).read_bytes()
    _write_wheel(target, files, info_dir)
    return target


def cmclient_wheel(into: Path) -> tuple[Path, str]:
    """A wheel of cmclient as the source tree has it now (what ``pip wheel .`` with
    hatchling builds: the package, its metadata from pyproject.toml, its entry points),
    and the hash of its contents."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the metadata pip wrote for the editable install
        return _cmclient_wheel_from(metadata.distribution("cmclient"), into)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    meta = ["Metadata-Version: 2.3", f"Name: {name}", f"Version: {version}",
            f"Requires-Python: {project.get('requires-python', '>=3')}"]
    meta += [f"Requires-Dist: {req}" for req in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        meta.append(f"Provides-Extra: {extra}")
        meta += [f"Requires-Dist: {req}; extra == '{extra}'" for req in reqs]
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()) + "\n"
        for group, points in groups.items() if points
    )
    return _pack_cmclient(name, version, "\n".join(meta) + "\n", entry_points, into)


def _cmclient_wheel_from(dist: metadata.Distribution, into: Path) -> tuple[Path, str]:
    return _pack_cmclient(dist.metadata["Name"], dist.version, dist.read_text("METADATA") or "",
                          dist.read_text("entry_points.txt") or "", into)


def _pack_cmclient(
    name: str, version: str, meta: str, entry_points: str, into: Path
) -> tuple[Path, str]:
    info_dir = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted((ROOT / name).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    files[f"{info_dir}/METADATA"] = meta.encode()
    files[f"{info_dir}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: bench.envs\n"
                                  b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info_dir}/entry_points.txt"] = entry_points.encode()
    digest = hashlib.sha256()
    for arc, data in files.items():
        digest.update(arc.encode() + b"\0" + hashlib.sha256(data).digest())
    source_hash = digest.hexdigest()[:16]
    folder = into / f"cmclient-{source_hash}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}-{version}-py3-none-any.whl"
    if not target.exists():
        _write_wheel(target, files, info_dir)
    return target, source_hash


def _pip(python: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
         "--no-index", "--disable-pip-version-check", *args],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def _build(kind: str, dists: list[metadata.Distribution], prefix: Path) -> None:
    WHEELS.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        repack(dist, WHEELS)
    shutil.rmtree(prefix, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    # Resolved by pip, offline, against the repacked wheels: a missing dependency fails.
    roots = {_canonical(r) for r in KINDS[kind]}
    pins = [f"{d.metadata['Name']}=={d.version}" for d in dists
            if _canonical(d.metadata["Name"]) in roots]
    _pip(str(prefix / "bin" / "python"), "--find-links", str(WHEELS), *pins)
    (prefix / COMPLETE).touch()


def prepare(kinds: tuple[str, ...] = tuple(KINDS), note: object = None) -> dict[str, Env]:
    """The deployment environments, built now if they are not cached, cmclient's holding
    the source tree as it is now."""
    say = note if callable(note) else (lambda text: None)
    BASE.mkdir(parents=True, exist_ok=True)
    path = BASE / "path"
    path.mkdir(exist_ok=True)
    link = path / "bench"
    if not link.is_symlink() or link.resolve() != (ROOT / "bench").resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(ROOT / "bench")
    envs: dict[str, Env] = {}
    for kind in kinds:
        dists = _closure(KINDS[kind])
        key = hashlib.sha256(repr((
            RECIPE, sys.version, sys.platform, getattr(sys, "_base_executable", ""),
            [(_canonical(d.metadata["Name"]), d.version) for d in dists],
        )).encode()).hexdigest()[:12]
        prefix = BASE / f"{kind}-{key}"
        if not (prefix / COMPLETE).exists():
            say(f"building the {kind} deployment environment ({len(dists)} distributions)")
            for old in BASE.glob(f"{kind}-*"):  # other versions of this kind
                shutil.rmtree(old, ignore_errors=True)
            _build(kind, dists, prefix)
        if kind == "cmclient":
            wheel, source_hash = cmclient_wheel(WHEELS)
            stamp = prefix / "cmclient-source"
            if not stamp.exists() or stamp.read_text() != source_hash:
                _pip(str(prefix / "bin" / "python"), "--no-deps", "--force-reinstall",
                     str(wheel))
                stamp.write_text(source_hash)
            for old in WHEELS.glob("cmclient-*"):
                if old != wheel.parent:
                    shutil.rmtree(old, ignore_errors=True)
        envs[kind] = Env(kind, prefix, path)
    return envs


def describe(env: Env) -> list[str]:
    """The distributions an environment holds, as ``name==version``."""
    out = subprocess.run(
        [env.python, "-c", "from importlib import metadata as m; print('\\n'.join(sorted("
         "f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions())))"],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    )
    return out.stdout.split()


if __name__ == "__main__":
    for env in prepare(note=print).values():
        print(env.kind, env.prefix, " ".join(describe(env)))
