"""The results file of 'simrisk run', written without xarray (simrisk.netcdf): the same
file as xarray's netCDF4 backend writes, for every included deal."""

from __future__ import annotations

import json
import subprocess
import sys

import netCDF4
import numpy as np
import pytest
import xarray as xr

from simrisk import engine, netcdf, results, summary
from simrisk.config import parse_deal
from simrisk.netcdf import Contents, Variable
from tests.conftest import CONFIGS, ROOT, load_raw, simple_deal

DEALS = sorted(p.stem for p in CONFIGS.glob("*.toml"))


def _raw(path) -> dict:
    """Everything a NetCDF reader sees, in the file's order: dimensions, variables (type,
    dimensions, every attribute, values) and the file's attributes."""
    with netCDF4.Dataset(path) as f:
        f.set_auto_maskandscale(False)
        out = {"dims": [(k, len(v)) for k, v in f.dimensions.items()]}
        out["attrs"] = {k: f.getncattr(k) for k in f.ncattrs()}
        for name, v in f.variables.items():
            attrs = {k: v.getncattr(k) for k in v.ncattrs()}
            out[name] = (v.dtype, v.dimensions, attrs, v[...])
    return out


def _assert_same_attrs(a: dict, b: dict, where: str) -> None:
    assert list(a) == list(b), where
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=f"{where}.{k}")


def _assert_same_file(a, b):
    ra, rb = _raw(a), _raw(b)
    assert list(ra) == list(rb)  # the variables, in order
    assert ra.pop("dims") == rb.pop("dims")
    _assert_same_attrs(ra.pop("attrs"), rb.pop("attrs"), "file")
    for key, (ta, da, aa, xa) in ra.items():
        tb, db, ab, xb = rb[key]
        assert (ta, da) == (tb, db), key
        _assert_same_attrs(aa, ab, key)
        np.testing.assert_array_equal(xa, xb, err_msg=key)
    back_a, back_b = xr.load_dataset(a), xr.load_dataset(b)
    assert back_a.identical(back_b)
    for name in back_a.variables:
        assert back_a[name].dtype == back_b[name].dtype, name


def _both(contents: Contents, tmp_path):
    """The contents written by simrisk.netcdf and by xarray."""
    ours, theirs = tmp_path / "ours.nc", tmp_path / "xarray.nc"
    netcdf.write(contents, ours)
    contents.dataset().to_netcdf(theirs, engine="netcdf4")
    return ours, theirs


@pytest.mark.parametrize("detail", [False, True])
@pytest.mark.parametrize("deal", DEALS)
def test_run_file_is_the_file_xarray_writes(deal, detail, tmp_path):
    cfg = parse_deal(load_raw(deal), f"{deal}.toml")
    res = engine.run(cfg, 5, 12, detail=detail)
    contents = results.run_contents(cfg, res, 5, "the deal's text, æøå")
    ours, theirs = _both(contents, tmp_path)
    _assert_same_file(ours, theirs)
    back = results.open_results(ours)
    assert back.attrs["deal_file"] == "the deal's text, æøå"
    assert back["date"].dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(back["date"].values, res.structure.dates)
    # the run's summary is made from the contents; the file gives the same
    # (as JSON text, in which an undefined figure, NaN, equals itself)
    assert json.dumps(summary.summary(contents)) == json.dumps(summary.summary(back))


def test_a_deal_without_uncertain_inputs(tmp_path):
    cfg = simple_deal()
    res = engine.run(cfg, 1, 6)
    contents = results.run_contents(cfg, res, 1)
    assert contents.sizes["parameter"] == 0
    _assert_same_file(*_both(contents, tmp_path))


def test_edge_cases_by_hand(tmp_path):
    """Empty dimensions, a single date, a coordinate no variable lists (it goes to the
    file's 'coordinates'), an int8 variable with an array attribute, NaN values."""
    contents = Contents(
        {
            "x": Variable(("a", "t"), np.array([[1.5, np.nan]]), {"units": "DKK"}),
            "flag": Variable(("a",), np.array([3], dtype=np.int8), {"flag_values": np.arange(4)}),
            "none": Variable(("e",), np.empty(0), {}),
        },
        {
            "a": Variable(("a",), np.asarray(["only"]), {}),
            "t": Variable(("t",), np.arange(2), {"units": "week"}),
            "when": Variable(("t",), np.array(["2025-01-06", "2025-03-03"], "datetime64[D]"), {}),
            "one": Variable(("o",), np.array(["2026-05-01"], "datetime64[ns]"), {}),
            "no_dates": Variable(("p",), np.array([], "datetime64[D]"), {}),
            "e": Variable(("e",), np.asarray([], dtype=str), {}),
            "at": Variable((), np.datetime64("2024-02-29", "s"), {}),
            "u": Variable(("u",), np.arange(3, dtype=np.uint16), {}),
        },
        {"title": "by hand, æøå", "n": 3, "ratio": 0.5, "sizes": np.array([1.5, 2.0])},
    )
    ours, theirs = _both(contents, tmp_path)
    _assert_same_file(ours, theirs)
    with netCDF4.Dataset(ours) as f:
        assert f.getncattr("coordinates") == "no_dates one"
        assert f["x"].getncattr("coordinates") == "at when"  # a 0-d one goes with every one
        assert f["when"].getncattr("units") == "days since 2025-01-06 00:00:00"
        assert f["no_dates"].getncattr("units") == "days since 1970-01-01 00:00:00"
        np.testing.assert_array_equal(f["when"][...], [0, 56])


@pytest.mark.parametrize(
    "values, what",
    [
        (np.array([True]), "bool"),
        (np.array(["2025-01-06T12"], "datetime64[h]"), "whole days"),
        (np.array(["2025-01-06", "NaT"], "datetime64[D]"), "NaT"),
        (np.array([object()]), "object"),
    ],
)
def test_values_it_does_not_write(values, what, tmp_path):
    contents = Contents({"v": Variable(("d",), values, {})}, {})
    with pytest.raises(TypeError, match=f"v: .*{what}"):
        netcdf.write(contents, tmp_path / "x.nc")
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.parametrize(
    "attrs, error, match",
    [
        ({"ok": True}, TypeError, "v.ok: attributes of type bool"),
        ({"ok": [1, 2]}, TypeError, "v.ok: attributes of type list"),
        ({"ok": np.array(["a"])}, TypeError, "v.ok: attributes of type ndarray"),
        ({"coordinates": "d"}, ValueError, "v: the writer sets the coordinates"),
    ],
)
def test_attributes_it_does_not_write(attrs, error, match, tmp_path):
    contents = Contents({"v": Variable(("d",), np.zeros(2), attrs)}, {})
    with pytest.raises(error, match=match):
        netcdf.write(contents, tmp_path / "x.nc")
    assert not (tmp_path / "x.nc").exists()


def test_contents_it_does_not_write(tmp_path):
    two_sizes = Contents(
        {"a": Variable(("d",), np.zeros(2), {}), "b": Variable(("d",), np.zeros(3), {})}, {}
    )
    with pytest.raises(ValueError, match="b: dimension d of 3, elsewhere 2"):
        netcdf.write(two_sizes, tmp_path / "x.nc")
    spaced = Contents(
        {"a": Variable(("d",), np.zeros(2), {})},
        {"first day": Variable(("d",), np.array(["2025-01-06"] * 2, "datetime64[D]"), {})},
    )
    with pytest.raises(ValueError, match="first day: a coordinate's name has no space"):
        netcdf.write(spaced, tmp_path / "y.nc")
    own = Contents({"a": Variable(("d",), np.zeros(2), {})}, {}, {"coordinates": "a"})
    with pytest.raises(ValueError, match="the file's coordinates attribute"):
        netcdf.write(own, tmp_path / "z.nc")


def test_simrisk_run_does_without_xarray(tmp_path):
    """'simrisk run' starts without importing xarray and pandas (a quarter of a second);
    the file it writes opens in xarray as a results file."""
    out = tmp_path / "r.nc"
    code = (
        "import sys\n"
        "from simrisk.cli import run_command\n"
        f"sys.argv = ['simrisk', 'run', {str(CONFIGS / 'holbaek.toml')!r}, '-n', '8',"
        f" '--seed', '3', '-o', {str(out)!r}]\n"
        "assert run_command() == 0\n"
        "heavy = ('xarray', 'pandas', 'dask', 'scipy.stats', 'simrisk.analysis')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    ds = results.open_results(out)
    assert ds.sizes["scenario"] == 8 and ds.attrs["seed"] == 3
