"""Every exception a user can catch is in ``cmclient.errors``, in its documented tree.

A user catches what derives from ``ComprehendMedicalError``; such a class defined in
another module would be missing from the tree users read. Found with ``ast`` (nothing
is imported), following subclasses of subclasses across modules. Exceptions that never
leave the module that raises them (a pool's ``Stale``, the CLI's ``UsageError``) do not
derive from the tree and are not concerned.
"""

from __future__ import annotations

import ast
from pathlib import Path

from cmclient import errors

ROOT = Path(__file__).resolve().parents[2]

#: Classes still defined outside errors.py, until their module's owner moves them
#: (issue 15, point 4). Moving one means deleting it here: the test asks for both.
PENDING: set[str] = set()


def _classes() -> dict[str, list[str]]:
    """``module.Class`` -> the last dotted part of each of its bases."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "cmclient").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
            ".__init__")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                found[f"{module}.{node.name}"] = [
                    ast.unparse(base).rpartition(".")[2] for base in node.bases
                ]
    return found


def _tree_outside_errors() -> set[str]:
    classes = _classes()
    in_tree = {name.rpartition(".")[2] for name in classes if name.startswith("cmclient.errors.")}
    in_tree.add("ComprehendMedicalError")
    outside: set[str] = set()
    grew = True
    while grew:
        grew = False
        for name, bases in classes.items():
            if name.startswith("cmclient.errors.") or name in outside:
                continue
            if any(base in in_tree or base in {o.rpartition(".")[2] for o in outside}
                   for base in bases):
                outside.add(name)
                grew = True
    return outside


def test_every_catchable_exception_is_defined_in_errors() -> None:
    assert _tree_outside_errors() == PENDING


def test_every_exception_but_the_per_code_ones_is_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    drawn = {name for name in errors.__all__
             if isinstance(getattr(errors, name), type)
             and issubclass(getattr(errors, name), errors.ComprehendMedicalError)
             and not (issubclass(getattr(errors, name), errors.ServiceError)
                      and getattr(errors, name) is not errors.ServiceError)}
    missing = sorted(name for name in drawn if name not in doc)
    assert not missing, missing


def test_exceptions_moved_into_errors_are_still_where_they_were() -> None:
    from cmclient import credentials
    from cmclient._protocol import config as _config
    from cmclient.credentials import _sources

    assert credentials.CredentialRetrievalError is errors.CredentialRetrievalError
    assert _sources.CredentialRetrievalError is errors.CredentialRetrievalError
    assert _config.ProfileNotFoundError is errors.ProfileNotFoundError
    assert _config.InvalidConfigError is errors.InvalidConfigError
    assert issubclass(errors.CredentialRetrievalError, errors.NoCredentialsError)
    assert issubclass(errors.InvalidConfigError, ValueError)
