"""
Cone searches on a service that has none.

``Mast.Jwst.Filtered.Nirspec`` has no positional parameter, so a cone becomes
range filters on ``targ_ra``/``targ_dec`` that enclose the whole cone (`cone_box`),
and the rows that come back are cut on their exact great-circle separation from the
centre (`cut_on_separation`). Pure functions, no I/O.
"""
import re

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astroquery.exceptions import InvalidQueryError

__all__ = ["parse_radius", "parse_coordinates", "cone_box", "cone_filters", "cut_on_separation"]

#: Margin added to the box so that rounding never drops a row on its edge.
_BOX_MARGIN = 1 * u.mas


def parse_radius(radius):
    """
    Check a search radius.

    Parameters
    ----------
    radius : `~astropy.units.Quantity`, `~astropy.coordinates.Angle` or str
        An angle with its unit, such as ``2 * u.arcmin`` or ``"30arcsec"``.

    Returns
    -------
    radius : `~astropy.coordinates.Angle`

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a bare number, a non-angle unit, or a value that is not positive and finite.

    Examples
    --------
    >>> float(parse_radius("30 arcsec").to_value("arcsec"))
    30.0
    """
    if radius is None:
        raise InvalidQueryError("A positional search needs radius=, an angle such as 2 * u.arcmin.")
    if isinstance(radius, str):
        try:
            radius = u.Quantity(radius)
        except (TypeError, ValueError):
            raise InvalidQueryError(
                f"Invalid radius {radius!r}: give an angle with a unit, e.g. '30arcsec' or "
                "2 * u.arcmin.") from None
    if not isinstance(radius, u.Quantity):
        raise InvalidQueryError(
            f"Invalid radius {radius!r} ({type(radius).__name__}): a bare number has no unit; "
            "give an angle such as 30 * u.arcsec or '2arcmin'.")
    if not radius.isscalar or radius.unit.physical_type != "angle":
        raise InvalidQueryError(
            f"Invalid radius {radius!r}: it must be a single angle (arcsec, arcmin, deg).")
    angle = Angle(radius)
    if not np.isfinite(angle.value) or angle <= 0 * u.deg:
        raise InvalidQueryError(f"Invalid radius {radius!r}: it must be positive and finite.")
    if angle > 180 * u.deg:
        raise InvalidQueryError(f"Invalid radius {radius!r}: it must not exceed 180 deg.")
    return angle


def parse_coordinates(coordinates):
    """
    Read a sky position given as a `~astropy.coordinates.SkyCoord` or an ``"ra dec"`` string.

    Object names are not resolved here (that needs the network); `None` is returned
    for a string that is not a position so that the caller can resolve it.

    Parameters
    ----------
    coordinates : `~astropy.coordinates.SkyCoord` or str
        A single position; strings in degrees (``"53.16 -27.79"``) or sexagesimal
        (``"03h32m38s -27d47m24s"``) are read as ICRS.

    Returns
    -------
    coord : `~astropy.coordinates.SkyCoord` or None
        ICRS position, or `None` when the string looks like an object name.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For an array of positions, non-finite values, or an unsupported type.

    Examples
    --------
    >>> c = parse_coordinates("53.16 -27.79")
    >>> round(float(c.ra.deg), 2), round(float(c.dec.deg), 2)
    (53.16, -27.79)
    >>> parse_coordinates("NGC 1068") is None
    True
    """
    if isinstance(coordinates, SkyCoord):
        coord = coordinates
    elif isinstance(coordinates, str):
        text = coordinates.strip()
        if not text:
            raise InvalidQueryError("Empty coordinates: give a SkyCoord, 'ra dec' or an object name.")
        parts = text.replace(",", " ").split()
        try:
            if len(parts) == 2 and all(_is_float(p) for p in parts):
                ra, dec = (float(p) for p in parts)
                if not -90 <= dec <= 90:
                    raise InvalidQueryError(
                        f"Invalid coordinates {coordinates!r}: Dec {dec} is outside [-90, 90] deg.")
                coord = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
            else:
                coord = SkyCoord(text, frame="icrs", unit=(u.hourangle, u.deg))
        except (ValueError, u.UnitsError) as err:
            if _COORDINATE_LIKE.match(text):
                raise InvalidQueryError(
                    f"Invalid coordinates {coordinates!r}: {err}. Give 'ra dec' in degrees "
                    "(Dec within [-90, 90]) or sexagesimal like '03h32m38s -27d47m24s'.") from None
            return None
    else:
        raise InvalidQueryError(
            f"Invalid coordinates {coordinates!r} ({type(coordinates).__name__}): give a SkyCoord, "
            "an 'ra dec' string in degrees, or an object name.")
    if not coord.isscalar:
        raise InvalidQueryError("coordinates must be a single position, not an array.")
    coord = coord.icrs
    if not (np.isfinite(coord.ra.deg) and np.isfinite(coord.dec.deg)):
        raise InvalidQueryError(f"Invalid coordinates {coordinates!r}: RA and Dec must be finite.")
    return coord


#: Text made only of numbers, signs, separators and angle-unit letters is a position,
#: never an object name: a bad one is an error, not something to resolve.
_COORDINATE_LIKE = re.compile(r"^[+\-]?\d[\d\s.,:+\-hmsd°'\"]*$", re.IGNORECASE)


def _is_float(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def cone_box(center, radius):
    """
    RA and Dec ranges (deg) enclosing a cone, correct at any declination.

    The Dec range is ``dec ± radius`` clipped to the poles. The RA half-width of a
    small circle is ``arcsin(sin r / cos δ)``, which grows as ``1 / cos δ`` away from
    the equator. When the cone crosses RA 0/360 or contains a pole, no single RA
    interval encloses it, so the RA range is `None` (every RA) and only the Dec band
    constrains the query; the exact separation cut removes the rest.

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord`
        Cone centre.
    radius : `~astropy.coordinates.Angle` or `~astropy.units.Quantity`
        Cone radius.

    Returns
    -------
    ra_range : tuple of float or None
        ``(min, max)`` in degrees, with ``0 <= min < max < 360``, or `None`.
    dec_range : tuple of float
        ``(min, max)`` in degrees.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> import astropy.units as u
    >>> ra, dec = cone_box(SkyCoord(10 * u.deg, 60 * u.deg), 1 * u.arcmin)
    >>> round((ra[1] - ra[0]) / 2 * 60, 3)     # twice 1 arcmin at dec 60
    2.0
    >>> cone_box(SkyCoord(0.001 * u.deg, 0 * u.deg), 10 * u.arcsec)[0] is None
    True
    """
    radius = Angle(radius) + _BOX_MARGIN
    center = center.icrs
    dec = center.dec
    dec_min = max(dec - radius, Angle(-90 * u.deg))
    dec_max = min(dec + radius, Angle(90 * u.deg))
    dec_range = (float(dec_min.deg), float(dec_max.deg))

    if abs(dec) + radius >= 90 * u.deg:
        return None, dec_range          # a pole is inside the cone
    half_width = Angle(np.arcsin(np.sin(radius) / np.cos(dec)))
    ra_min = center.ra - half_width
    ra_max = center.ra + half_width
    if ra_min < 0 * u.deg or ra_max >= 360 * u.deg:
        return None, dec_range          # crosses RA 0/360
    return (float(ra_min.deg), float(ra_max.deg)), dec_range


def cone_filters(center, radius, *, ra="targ_ra", dec="targ_dec"):
    """
    MAST range filters on the position columns that enclose a cone (see `cone_box`).

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord`
        Cone centre.
    radius : `~astropy.coordinates.Angle` or `~astropy.units.Quantity`
        Cone radius.
    ra, dec : str
        Names of the position columns.

    Returns
    -------
    filters : list of dict
        A Dec range, and an RA range unless the cone crosses RA 0/360 or a pole.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> import astropy.units as u
    >>> [f["paramName"] for f in cone_filters(SkyCoord(10 * u.deg, 20 * u.deg), 1 * u.arcmin)]
    ['targ_ra', 'targ_dec']
    """
    ra_range, dec_range = cone_box(center, radius)
    filters = []
    if ra_range is not None:
        filters.append({"paramName": ra, "values": [{"min": ra_range[0], "max": ra_range[1]}]})
    filters.append({"paramName": dec, "values": [{"min": dec_range[0], "max": dec_range[1]}]})
    return filters


def cut_on_separation(table, center, radius, *, ra="targ_ra", dec="targ_dec"):
    """
    Keep the rows within ``radius`` of ``center`` and add a ``separation`` column.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Rows with RA and Dec columns in degrees.
    center : `~astropy.coordinates.SkyCoord`
        Cone centre.
    radius : `~astropy.coordinates.Angle`
        Cone radius.
    ra, dec : str
        Names of the position columns.

    Returns
    -------
    table : `~astropy.table.Table`
        The rows inside the cone, with ``separation`` in arcsec; rows without a
        position are dropped.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from astropy.coordinates import SkyCoord
    >>> import astropy.units as u
    >>> t = Table({"targ_ra": [359.9999, 0.0001, 10.0], "targ_dec": [0.0, 0.0, 0.0]})
    >>> out = cut_on_separation(t, SkyCoord(0 * u.deg, 0 * u.deg), 1 * u.arcsec)
    >>> len(out), [round(float(s), 2) for s in out["separation"]]
    (2, [0.36, 0.36])
    """
    ra_values = np.ma.filled(np.ma.asarray(table[ra], dtype=float), np.nan)
    dec_values = np.ma.filled(np.ma.asarray(table[dec], dtype=float), np.nan)
    known = np.isfinite(ra_values) & np.isfinite(dec_values)
    separation = np.full(len(table), np.inf)
    if known.any():
        coords = SkyCoord(ra_values[known] * u.deg, dec_values[known] * u.deg, frame="icrs")
        separation[known] = coords.separation(center.icrs).to_value(u.arcsec)
    keep = separation <= Angle(radius).to_value(u.arcsec)
    out = table[keep]
    out["separation"] = separation[keep] * u.arcsec
    out["separation"].description = "Great-circle distance from the search position (targ_ra, targ_dec)"
    return out
