"""Deal schema and loading: TOML in, a validated :class:`DealConfig` out.

Every section forbids unknown keys; :func:`load_deal` collects every problem of
a file at once and raises :class:`ConfigError`, whose ``problems`` are lines of
the form ``programme.phases[2].dropout: Input should be less than or equal to 1``.

Modules: :mod:`.base` (strict models, common types), :mod:`.deal`,
:mod:`.economics`, :mod:`.contract`, :mod:`.uncertainty` (the sections),
:mod:`.schema` (the whole deal), :mod:`.paths` (the path grammar), :mod:`.errors`
(one line per problem), :mod:`.load` (reading and validating files).
"""

from simrisk.config.base import Strict
from simrisk.config.deal import CalendarShock
from simrisk.config.errors import validation_problems
from simrisk.config.load import (
    check_uncertainty,
    load_deal,
    load_model,
    parse_deal,
    rejection,
    validate,
)
from simrisk.config.paths import (
    expand,
    get_path,
    is_real,
    parse_path,
    path_text,
    scenario_independent,
    set_path,
)
from simrisk.config.schema import DealConfig
from simrisk.config.uncertainty import StressPoint
from simrisk.errors import ConfigError

__all__ = [
    "CalendarShock",
    "ConfigError",
    "DealConfig",
    "StressPoint",
    "Strict",
    "check_uncertainty",
    "expand",
    "get_path",
    "is_real",
    "load_deal",
    "load_model",
    "parse_deal",
    "parse_path",
    "path_text",
    "rejection",
    "scenario_independent",
    "set_path",
    "validate",
    "validation_problems",
]
