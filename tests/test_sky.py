"""The cone → box translation and the exact separation cut (pure)."""
import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astroquery.exceptions import InvalidQueryError

from astroquery_nirspec.sky import cone_box, cut_on_separation, parse_coordinates, parse_radius


def _ring(center, radius, n=360):
    """Points just inside the cone's edge, all around it."""
    angles = np.linspace(0, 360, n, endpoint=False) * u.deg
    return center.directional_offset_by(angles, radius * 0.999999)


def _inside_box(points, box):
    ra_range, (dec_min, dec_max) = box
    ok = (points.dec.deg >= dec_min) & (points.dec.deg <= dec_max)
    if ra_range is not None:
        ok &= (points.ra.deg >= ra_range[0]) & (points.ra.deg <= ra_range[1])
    return ok


@pytest.mark.parametrize("dec", [0, 60, -60, 89.9, -89.9, 45.5])
@pytest.mark.parametrize("radius", [3.3 * u.arcsec, 2 * u.arcmin, 1 * u.deg])
def test_box_encloses_every_point_of_the_cone(dec, radius):
    center = SkyCoord(123.4 * u.deg, dec * u.deg)
    box = cone_box(center, radius)
    assert _inside_box(_ring(center, radius), box).all()


@pytest.mark.parametrize("ra", [0.0, 0.0005, 359.9995])
def test_box_across_ra_zero_keeps_both_sides(ra):
    center = SkyCoord(ra * u.deg, -5 * u.deg)
    radius = 10 * u.arcsec
    box = cone_box(center, radius)
    assert box[0] is None            # no single RA interval: only the Dec band is sent
    assert _inside_box(_ring(center, radius), box).all()


def test_box_is_not_needlessly_wide():
    ra_range, dec_range = cone_box(SkyCoord(10 * u.deg, 60 * u.deg), 60 * u.arcsec)
    half_ra = (ra_range[1] - ra_range[0]) / 2 * 3600
    assert half_ra == pytest.approx(120, rel=1e-3)          # 1/cos(60 deg) wider
    assert (dec_range[1] - dec_range[0]) / 2 * 3600 == pytest.approx(60, rel=1e-3)


def test_box_with_pole_inside_drops_ra():
    ra_range, dec_range = cone_box(SkyCoord(0 * u.deg, 89.99 * u.deg), 1 * u.arcmin)
    assert ra_range is None
    assert dec_range[1] == 90.0


def test_cut_on_separation_is_exact():
    center = SkyCoord(10 * u.deg, 70 * u.deg)
    east = center.directional_offset_by(90 * u.deg, 0.8 * 4 * u.arcsec)
    corner = center.directional_offset_by(45 * u.deg, 1.25 * 4 * u.arcsec)
    t = Table({"targ_ra": [east.ra.deg, corner.ra.deg, np.nan],
               "targ_dec": [east.dec.deg, corner.dec.deg, 70.0], "id": [1, 2, 3]})
    out = cut_on_separation(t, center, 4 * u.arcsec)
    assert list(out["id"]) == [1]
    assert out["separation"][0] == pytest.approx(3.2, abs=1e-6)
    assert out["separation"].unit == u.arcsec


@pytest.mark.parametrize("radius, message", [
    (5, "bare number has no unit"),
    (-1 * u.arcsec, "positive"),
    (3 * u.s, "single angle"),
    ("five arcsec", "give an angle with a unit"),
    (None, "needs radius="),
])
def test_bad_radius(radius, message):
    with pytest.raises(InvalidQueryError, match=message):
        parse_radius(radius)


def test_parse_coordinates():
    assert parse_coordinates("03h32m38.4s -27d47m24s").dec.deg == pytest.approx(-27.79)
    assert parse_coordinates(SkyCoord(1 * u.deg, 2 * u.deg, frame="galactic")).frame.name == "icrs"
    assert parse_coordinates("NGC 1068") is None
    with pytest.raises(InvalidQueryError, match="Dec 95.0 is outside"):
        parse_coordinates("10 95")
    with pytest.raises(InvalidQueryError, match="give a SkyCoord"):
        parse_coordinates(42)
    with pytest.raises(InvalidQueryError, match="single position"):
        parse_coordinates(SkyCoord([1, 2] * u.deg, [3, 4] * u.deg))
