"""A results file's contents without xarray, and their NetCDF writer.

``simrisk run`` builds its results as :class:`Contents` and writes them with netCDF4
directly: importing xarray (and pandas with it) costs about a quarter of a second, a
sixth of a short run. The file has the layout xarray's netCDF4 backend gives the same
Dataset (:meth:`Contents.dataset`), so ``xarray.open_dataset`` reads back exactly that
Dataset:

- floating-point variables have ``_FillValue = NaN``, integer ones no fill value;
- strings are variable-length strings (NC_STRING);
- datetimes are int64 days since the first date (``proleptic_gregorian``, CF);
- a data variable lists the non-dimension coordinates that share its dimensions in
  its ``coordinates`` attribute (CF), a coordinate no variable lists goes to the
  file's ``coordinates`` attribute.

Only these kinds of values are written: floats, integers, strings and whole-day dates,
attributes of strings, numbers and numeric arrays (others raise TypeError). The writer
sets the ``coordinates`` attributes itself, so contents that carry one, coordinates
whose names have a space, or dimensions of two sizes raise ValueError. The tests compare
the file with xarray's for every included deal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

DAY = np.timedelta64(1, "D")


class Variable(NamedTuple):
    """One variable: its dimensions, values and attributes (a tuple xarray takes as a
    variable, too)."""

    dims: tuple[str, ...]
    values: np.ndarray
    attrs: dict


@dataclass
class Contents:
    """Data variables, coordinates and attributes of a file: as much of a Dataset as
    :func:`simrisk.summary.summary` reads (``c[name].values``, ``c.attrs``,
    ``c.sizes``)."""

    data: dict[str, Variable]
    coords: dict[str, Variable]
    attrs: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> Variable:
        return self.data[name] if name in self.data else self.coords[name]

    @property
    def sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, var in (*self.data.items(), *self.coords.items()):
            for dim, size in zip(var.dims, np.shape(var.values), strict=True):
                if out.setdefault(dim, size) != size:
                    raise ValueError(f"{name}: dimension {dim} of {size}, elsewhere {out[dim]}")
        return out

    def dataset(self) -> xr.Dataset:
        """The same contents as an xarray Dataset."""
        import xarray as xr

        return xr.Dataset(dict(self.data), coords=dict(self.coords), attrs=dict(self.attrs))


def write(contents: Contents, path: str | Path) -> None:
    """Write ``contents`` to a new NetCDF-4 file at ``path`` (see the module's notes).
    Contents it does not write raise before the file is created."""
    import netCDF4

    non_dim = {k: v for k, v in contents.coords.items() if v.dims != (k,)}
    variables = {**contents.data, **contents.coords}
    for name, var in variables.items():
        if "coordinates" in var.attrs:
            raise ValueError(f"{name}: the writer sets the coordinates attributes itself")
        if name in non_dim and " " in name:
            raise ValueError(f"{name}: a coordinate's name has no space (CF 'coordinates')")
    if "coordinates" in contents.attrs:
        raise ValueError("the writer sets the file's coordinates attribute itself")
    sizes = contents.sizes
    encoded = {}
    listed: set[str] = set()
    for name, var in variables.items():
        values, dtype, extra = _encode(name, var.values)
        attrs = {**var.attrs, **extra}
        shared = sorted(
            c
            for c, cv in non_dim.items()
            if name not in non_dim and name not in var.dims and set(cv.dims) <= set(var.dims)
        )
        if shared:
            attrs["coordinates"] = " ".join(shared)
            listed.update(shared)
        attrs = {k: _attribute(f"{name}.{k}", v) for k, v in attrs.items()}
        encoded[name] = (values, dtype, attrs)
    file_attrs = dict(contents.attrs)
    if set(non_dim) - listed:
        file_attrs["coordinates"] = " ".join(sorted(set(non_dim) - listed))
    file_attrs = {k: _attribute(k, v) for k, v in file_attrs.items()}

    with netCDF4.Dataset(path, "w", format="NETCDF4") as f:
        for dim, size in sizes.items():
            f.createDimension(dim, size)
        for name, (values, dtype, attrs) in encoded.items():
            fill = np.nan if np.issubdtype(dtype, np.floating) else None
            nc = f.createVariable(name, dtype, variables[name].dims, fill_value=fill)
            nc.set_auto_maskandscale(False)  # the values go in as they are
            for key, value in attrs.items():
                nc.setncattr(key, value)
            if values.size:
                nc[...] = values
        for key, value in file_attrs.items():
            f.setncattr(key, value)


def _encode(name: str, values) -> tuple[np.ndarray, object, dict]:
    """The values as stored, their NetCDF type, and the attributes the encoding adds."""
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "M":
        if np.any(np.isnat(values)):
            raise TypeError(f"{name}: missing dates (NaT) are not written")
        days = values.astype("datetime64[D]")
        if np.any(days != values):
            raise TypeError(f"{name}: only whole days are written")
        start = days.ravel()[0] if days.size else np.datetime64("1970-01-01", "D")
        units = f"days since {start} 00:00:00"
        stored = ((days - start) // DAY).astype(np.int64)
        return stored, np.int64, {"units": units, "calendar": "proleptic_gregorian"}
    if kind == "U":
        return values.astype(object), str, {}
    if kind in "fiu":
        return values, values.dtype, {}
    raise TypeError(f"{name}: values of type {values.dtype} are not written")


def _attribute(name: str, value):
    """An attribute as netCDF4 stores it: text, a number or an array of numbers."""
    ok = isinstance(value, str) or (
        isinstance(value, int | float | np.integer | np.floating | np.ndarray)
        and not isinstance(value, bool | np.bool_)
        and np.asarray(value).dtype.kind in "iuf"
    )
    if not ok:
        raise TypeError(f"{name}: attributes of type {type(value).__name__} are not written")
    return value
