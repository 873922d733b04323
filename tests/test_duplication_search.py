"""search.sky_fields: the sky fields of a target list, their centres, radii and CAOM requests."""
import dataclasses

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord

from astroquery_nirspec import duplication
from astroquery_nirspec.duplication import DuplicationRules, SkyFields, read_targets, sky_fields
from astroquery_nirspec.duplication.search import (MAX_FIELD_RADIUS, cluster_targets, field_requests,
                                                   search_radius)

ROW = {"grating": "G395H", "filter": "F290LP", "exposure_time": 1000}


def targets(*positions, aperture="MSA"):
    return read_targets([dict(ROW, name=f"t{i}", ra=ra, dec=dec, aperture=aperture)
                         for i, (ra, dec) in enumerate(positions)])


def position(request):
    return [float(v) for v in request["params"]["position"].split(",")]


def test_exported_from_the_package():
    assert duplication.sky_fields is sky_fields and duplication.SkyFields is SkyFields
    assert {"sky_fields", "SkyFields"} <= set(duplication.__all__)


def test_fields_hold_requests_labels_centers_and_radii():
    t = targets((53.1, -27.8), (53.102, -27.8), (150.0, 2.0), (53.101, -27.801))
    fields = sky_fields(t, DuplicationRules(), pagesize=500)
    assert isinstance(fields, SkyFields) and len(fields) == 2
    assert fields.labels.tolist() == [0, 0, 1, 0]
    assert isinstance(fields.centers, SkyCoord) and len(fields.centers) == 2
    assert isinstance(fields.radii, Angle) and fields.radii.shape == (2,)
    assert [r["pagesize"] for r in fields.requests] == [500, 500]


def test_radius_and_center_are_the_ones_in_each_request():
    t = targets((53.1, -27.8), (53.102, -27.8), (150.0, 2.0))
    fields = sky_fields(t, DuplicationRules(), pagesize=500)
    for request, center, radius in zip(fields.requests, fields.centers, fields.radii):
        ra, dec, deg = position(request)
        assert ra == pytest.approx(center.ra.deg, abs=1e-7)   # 10 significant digits
        assert dec == pytest.approx(center.dec.deg, abs=1e-7)
        assert deg == pytest.approx(radius.to_value(u.deg), rel=1e-9)


def test_radius_is_extent_plus_the_widest_reach_of_the_members():
    # An IFU target (reach 270") and an MSA target (reach 540") share a field; a lone
    # IFU target has a field of its own whose radius is its reach alone.
    rows = [dict(ROW, name="ifu", ra=10.0, dec=20.0, aperture="IFU"),
            dict(ROW, name="msa", ra=10.0, dec=20.01, aperture="MSA"),
            dict(ROW, name="far", ra=200.0, dec=-5.0, aperture="IFU")]
    t = read_targets(rows)
    rules = DuplicationRules()
    fields = sky_fields(t, rules, pagesize=500)
    labels, centers, extents = cluster_targets(t["coord"])
    reach = search_radius(t, rules)
    assert fields.labels.tolist() == labels.tolist() == [0, 0, 1]
    assert fields.radii[0].to_value(u.arcsec) == pytest.approx(
        (extents[0] + reach[:2].max()).to_value(u.arcsec))
    assert fields.radii[1].to_value(u.arcsec) == pytest.approx(270.0)
    assert fields.centers.separation(centers).max() < 1e-9 * u.deg


def test_every_target_is_inside_its_fields_radius():
    rng = np.random.default_rng(3)
    t = targets(*zip(rng.uniform(0, 1, 60), rng.uniform(-1, 1, 60)))
    fields = sky_fields(t, DuplicationRules(), pagesize=500, max_radius=5 * u.arcmin)
    sep = t["coord"].separation(fields.centers[fields.labels])
    reach = search_radius(t, DuplicationRules())
    assert np.all(sep + reach <= fields.radii[fields.labels] * (1 + 1e-12))
    assert np.all(sep <= 5 * u.arcmin)


def test_field_requests_is_sky_fields_requests_and_labels():
    t = targets((53.1, -27.8), (150.0, 2.0))
    fields = sky_fields(t, DuplicationRules(), pagesize=50000)
    requests, labels = field_requests(t, DuplicationRules(), pagesize=50000)
    assert requests == fields.requests and labels.tolist() == fields.labels.tolist()


def test_sky_fields_is_frozen():
    fields = sky_fields(targets((53.1, -27.8)), DuplicationRules(), pagesize=50000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fields.labels = np.array([1])
    assert MAX_FIELD_RADIUS == 10 * u.arcmin


def _greedy_brute_force(coords, max_radius):
    """The clustering rule, written plainly: every seed against every unassigned position."""
    labels = np.full(len(coords), -1)
    for seed in range(len(coords)):
        if labels[seed] < 0:
            free = np.flatnonzero(labels < 0)
            labels[free[coords[free].separation(coords[seed]) <= max_radius]] = labels.max() + 1
    return labels


@pytest.mark.parametrize("where", ["sky", "pole", "ra0"])
def test_cluster_targets_is_the_greedy_rule(where):
    rng = np.random.default_rng(5)
    n = 400
    if where == "sky":
        ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    elif where == "pole":
        ra, dec = rng.uniform(0, 360, n), 90 - np.abs(rng.normal(0, 0.3, n))
    else:
        ra, dec = rng.normal(0, 0.2, n) % 360, rng.normal(0, 0.2, n)
    coords = SkyCoord(ra * u.deg, dec * u.deg)
    labels, centers, extents = cluster_targets(coords, max_radius=10 * u.arcmin)
    assert labels.tolist() == _greedy_brute_force(coords, 10 * u.arcmin).tolist()
    for k in range(len(centers)):
        members = coords[labels == k]
        assert extents[k] == members.separation(centers[k]).max()
        # the centre is the mean direction of the members
        xyz = members.cartesian.xyz.value.mean(axis=1)
        assert np.allclose(centers[k].cartesian.xyz.value, xyz / np.linalg.norm(xyz), atol=1e-12)


def test_cluster_targets_of_nothing():
    labels, centers, extents = cluster_targets(SkyCoord([] * u.deg, [] * u.deg))
    assert len(labels) == len(centers) == len(extents) == 0


def test_search_radius_per_target():
    rows = [dict(ROW, name=n, ra=10.0, dec=20.0, aperture=a) for n, a in
            [("a", "MSA"), ("b", "IFU"), ("c", "S200A1"), ("d", "S1600A1")]]
    t = read_targets(rows)
    rules = DuplicationRules()
    expected = [rules.near_factor * max(rules.radius_for(a).to_value(u.arcsec),
                                        rules.msa_cross_radius.to_value(u.arcsec) if m in ("FS", "IFU") else 0)
                for a, m in zip(t["aperture"], t["mode"])]
    assert search_radius(t, rules).to_value(u.arcsec).tolist() == pytest.approx(expected)


def test_radii_for_is_radius_for_each():
    rules = DuplicationRules()
    apertures = ["msa", "IFU", "S200A1", "MSA", "S1600A1"]
    assert rules.radii_for(apertures).to_value(u.arcsec).tolist() == [
        rules.radius_for(a).to_value(u.arcsec) for a in apertures]
    assert len(rules.radii_for([])) == 0
    from astroquery.exceptions import InvalidQueryError
    with pytest.raises(InvalidQueryError, match="S999"):
        rules.radii_for(["MSA", "S999"])
