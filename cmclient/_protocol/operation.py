"""One row of the operation table, and the lazy lookup of its models."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)


class Operation(Generic[InputT, OutputT]):
    """A Comprehend Medical operation: its wire name, where its models live, the error
    codes the service model declares for it, and the member (if any) that carries an
    idempotency token. The type parameters are the input and output models, so a
    client method's return type follows from the row it calls.

    A plain class with slots, as the cold path's other records are, not a dataclass: a
    dataclass generates and execs its methods when its class is made, on every cold
    start. Rows are values: equal when their fields are, and read, never changed, but
    for the cache of their models.
    """

    __slots__ = ("_models", "errors", "idempotency_token", "module", "name")

    def __init__(
        self,
        name: str,
        module: str,
        errors: tuple[str, ...] = (),
        idempotency_token: str | None = None,
    ) -> None:
        self.name = name
        self.module = module
        self.errors = errors
        self.idempotency_token = idempotency_token
        self._models: tuple[Any, Any] | None = None

    def _key(self) -> tuple[str, str, tuple[str, ...], str | None]:
        return self.name, self.module, self.errors, self.idempotency_token

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Operation):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Operation(name={self.name!r}, module={self.module!r}, "
                f"errors={self.errors!r}, idempotency_token={self.idempotency_token!r})")

    @property
    def input_model(self) -> type[InputT]:
        return cast("type[InputT]", self._load()[0])

    @property
    def output_model(self) -> type[OutputT]:
        return cast("type[OutputT]", self._load()[1])

    def _load(self) -> tuple[Any, Any]:
        # Imported on first use: a cold start imports only the models it calls.
        if self._models is None:
            module = import_module(f"cmclient.models.{self.module}")
            self._models = (
                getattr(module, f"{self.name}Request"), getattr(module, f"{self.name}Response")
            )
        return self._models
