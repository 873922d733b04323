"""Checks shared by the table tests: two Tables alike, and both decoding paths."""
import numpy as np
import pytest
from astropy.time import Time


def assert_same_table(a, b):
    """Same columns, classes, dtypes, units, descriptions and values (times by mask and instant)."""
    assert a.colnames == b.colnames
    for name in a.colnames:
        x, y = a[name], b[name]
        assert type(x) is type(y), name
        if isinstance(x, Time):
            assert x.mask.tolist() == y.mask.tolist(), name
            assert np.array_equal(x.unix[~x.mask], y.unix[~y.mask]), name
        else:
            assert x.dtype == y.dtype and x.unit == y.unit, name
            assert x.tolist() == y.tolist(), name
        assert x.info.description == y.info.description, name


#: The two decoding paths: typed by msgspec, and the plain-JSON fallback.
DECODERS = ["msgspec", "fallback"]


def use_decoder(kind, monkeypatch):
    """Decode with msgspec (skipped where it is not installed) or with the plain-JSON fallback."""
    from astroquery_nirspec import decoding
    if kind == "msgspec":
        pytest.importorskip("msgspec")
        assert decoding.msgspec is not None
    else:
        monkeypatch.setattr(decoding, "msgspec", None)
    return kind
