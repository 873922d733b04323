"""CAOM replies to one table: every distinct row kept, the same row from two requests once."""
import copy
import json
from pathlib import Path

import numpy as np

from astroquery_nirspec.duplication import evaluate, group_observations
from astroquery_nirspec.duplication.caom import caom_rows_table

DATA = Path(__file__).parent / "data"


def recorded():
    return json.loads((DATA / "advSearchPos.json").read_text())


def test_recorded_rows_sharing_an_obsid_are_all_kept():
    reply = recorded()
    assert len(reply["data"]) == 12                      # the recording itself
    rows = caom_rows_table([reply])
    assert len(rows) == 12
    assert len(set(rows["obsid"])) == 6
    for obsid in set(rows["obsid"]):                     # each GALEX visit: one FUV and one NUV row
        assert sorted(rows["filters"][rows["obsid"] == obsid]) == ["FUV", "NUV"]


def test_the_same_rows_from_an_overlapping_request_count_once():
    first, second = recorded(), recorded()
    for row in second["data"]:                           # another field centre: other distances
        row["distance"] = row["distance"] + 42.0
    rows = caom_rows_table([first, second])
    assert len(rows) == 12
    assert list(rows["distance"]) == [row["distance"] for row in first["data"]]


def test_rows_differing_in_one_value_are_different_rows():
    first = recorded()
    second = copy.deepcopy(first)
    second["data"][0]["t_exptime"] = 1.0
    assert len(caom_rows_table([first, second])) == 13


def _nirspec_reply():
    """Two level-3 configurations of one observation, as CAOM could list them under one obsid."""
    fields = [{"name": name, "type": kind} for name, kind in (
        ("obs_id", "string"), ("instrument_name", "string"), ("filters", "string"),
        ("t_exptime", "float"), ("s_ra", "float"), ("s_dec", "float"), ("calib_level", "int"),
        ("intentType", "string"), ("obs_collection", "string"), ("obsid", "string"),
        ("distance", "float"))]
    common = dict(instrument_name="NIRSPEC/SLIT", t_exptime=2000.0, s_ra=150.0, s_dec=2.0,
                  calib_level=3, intentType="science", obs_collection="JWST", obsid="77",
                  distance=0.0)
    data = [dict(common, obs_id="jw01345-o004_t001_nirspec_f290lp-g395h-s200a1", filters="F290LP;G395H"),
            dict(common, obs_id="jw01345-o004_t001_nirspec_f170lp-g235h-s200a1", filters="F170LP;G235H")]
    return {"fields": fields, "data": data}


def test_a_configuration_sharing_an_obsid_still_reaches_the_judge():
    groups = group_observations(caom_rows_table([_nirspec_reply()]))
    assert sorted(groups["grating"]) == ["G235H", "G395H"]
    target = dict(name="T", ra=150.0, dec=2.0, aperture="S200A1", grating="G235H",
                  filter="F170LP", exposure_time=1000)
    report = evaluate([target], groups)
    verdicts = dict(zip(report["grating"], report["verdict"]))
    assert verdicts["G235H"] == "DUPLICATE"
    assert np.count_nonzero(report["verdict"] == "DUPLICATE") == 1
