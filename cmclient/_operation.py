"""One row of the operation table, and the lazy lookup of its models."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)


@dataclass(frozen=True)
class Operation(Generic[InputT, OutputT]):
    """A Comprehend Medical operation: its wire name, where its models live, the error
    codes the service model declares for it, and the member (if any) that carries an
    idempotency token. The type parameters are the input and output models, so a
    client method's return type follows from the row it calls.
    """

    name: str
    module: str
    errors: tuple[str, ...] = ()
    idempotency_token: str | None = None
    _models: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def input_model(self) -> type[InputT]:
        return cast("type[InputT]", self._load()[0])

    @property
    def output_model(self) -> type[OutputT]:
        return cast("type[OutputT]", self._load()[1])

    def _load(self) -> list[Any]:
        # Imported on first use: a cold start imports only the models it calls.
        if not self._models:
            module = import_module(f"cmclient.models.{self.module}")
            self._models.extend(
                (getattr(module, f"{self.name}Request"), getattr(module, f"{self.name}Response"))
            )
        return self._models
