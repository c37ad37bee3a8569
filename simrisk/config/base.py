"""The base of every schema: strict models that forbid unknown keys, and common types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Window = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)]
"""Weeks ``[from, to)``."""


class Strict(BaseModel):
    # strict: no silent coercion ("0.01" is not a number, true is not a size);
    # no infinities or NaN (TOML allows them; no amount or rate of a deal is infinite)
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, strict=True, allow_inf_nan=False
    )
