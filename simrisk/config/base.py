"""The base of every schema: strict models that forbid unknown keys, and common types."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_WEEKS = 2600
"""The longest horizon (50 years); every week count is bounded by it."""
MAX_AMOUNT = 1e12
"""The largest amount of money (DKK) a field may hold: far beyond any deal, far below
where sums over citizens, weeks and scenarios would lose their meaning."""
MAX_RATIO = 1000.0
"""The largest multiplier or hazard ratio."""
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2200, 1, 1)
"""Dates must lie in this range: with a horizon of up to 50 years every simulated week
stays within what numpy's datetime64[ns] represents (1677-2262)."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0, le=MAX_AMOUNT)]
Positive = Annotated[float, Field(gt=0.0, le=MAX_AMOUNT)]
Ratio = Annotated[float, Field(gt=0.0, le=MAX_RATIO)]
Amount = Annotated[float, Field(ge=0.0, le=MAX_AMOUNT)]
Weeks = Annotated[int, Field(ge=0, le=MAX_WEEKS)]
PositiveWeeks = Annotated[int, Field(gt=0, le=MAX_WEEKS)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=20_000)]
Window = Annotated[list[Weeks], Field(min_length=2, max_length=2)]
"""Weeks ``[from, to)``."""


def _in_range(d: dt.date) -> dt.date:
    if not FIRST_DATE <= d < LAST_DATE:
        raise ValueError(f"dates must lie from {FIRST_DATE} up to, not including, {LAST_DATE}")
    return d


Date = Annotated[dt.date, AfterValidator(_in_range)]


class Strict(BaseModel):
    # strict: no silent coercion ("0.01" is not a number, true is not a size);
    # no infinities or NaN (TOML allows them; no amount or rate of a deal is infinite)
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, strict=True, allow_inf_nan=False
    )
