"""
The parameters of a duplication check (`DuplicationRules`) and its verdicts.

No I/O. The NIRSpec numbers they default to are in ``astroquery_nirspec.duplication.nirspec``.
"""
import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from astropy import units as u
from astroquery.exceptions import InvalidQueryError

from .nirspec import APERTURES, DUPLICATION_RADII, MSA_CROSS_RADIUS, SOURCE_RADIUS

__all__ = ["VERDICTS", "DuplicationRules"]

#: Verdicts, most severe first.
VERDICTS = ("DUPLICATE", "POSSIBLE", "NOT_DUPLICATE")


def _angle_arcsec(value, what):
    """An angular Quantity in arcsec; a plain number is refused (no assumed units)."""
    if not isinstance(value, u.Quantity):
        raise InvalidQueryError(f"{what} must be an angle Quantity (e.g. 4 * u.arcsec), got {value!r}.")
    try:
        value = value.to(u.arcsec)
    except u.UnitConversionError:
        raise InvalidQueryError(f"{what} must be an angle, got unit '{value.unit}'.") from None
    if not value.isscalar or not np.isfinite(value.value) or value.value <= 0:
        raise InvalidQueryError(f"{what} must be a positive finite angle, got {value}.")
    return value


@dataclass(frozen=True)
class DuplicationRules:
    """
    The parameters of the duplication check.

    Parameters
    ----------
    radii : dict, optional
        Duplication radius per aperture, as angle `~astropy.units.Quantity`. Entries given here
        override the defaults of `DUPLICATION_RADII`; apertures not given keep their default.
    exptime_factor : float, optional
        The archived/planned total exposure-time ratio must lie within
        ``[1/exptime_factor, exptime_factor]`` (inclusive). Default 4.
    near_factor : float, optional
        An observation whose centre lies beyond the radius but within ``near_factor`` times it
        is reported as a soft (position) failure. Default 1.5.
    msa_cross_radius : `~astropy.units.Quantity`, optional
        Radius within which an MSA observation counts against a fixed-slit or IFU target.
        Default 180 arcsec.
    source_radius : `~astropy.units.Quantity`, optional
        Radius within which a primary source of an open MSA shutter is the target itself
        (the source-level MOS check). Default 0.5 arcsec.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For an unknown aperture, a radius that is not a positive angle, or a factor below 1.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astroquery_nirspec.duplication import DuplicationRules
    >>> rules = DuplicationRules(radii={'IFU': 5 * u.arcsec})
    >>> rules.radius_for('ifu')
    <Quantity 5. arcsec>
    >>> rules.radius_for('S200A1')
    <Quantity 3.3 arcsec>
    """

    radii: dict = field(default_factory=dict)
    exptime_factor: float = 4.0
    near_factor: float = 1.5
    msa_cross_radius: u.Quantity = MSA_CROSS_RADIUS
    source_radius: u.Quantity = SOURCE_RADIUS

    def __post_init__(self):
        radii = {key: value.to(u.arcsec) for key, value in DUPLICATION_RADII.items()}
        for aperture, radius in dict(self.radii or {}).items():
            key = str(aperture).strip().upper()
            if key not in radii:
                raise InvalidQueryError(
                    f"Unknown aperture '{aperture}' in radii; accepted: {', '.join(APERTURES)}.")
            radii[key] = _angle_arcsec(radius, f"radii['{aperture}']")
        object.__setattr__(self, "radii", MappingProxyType(radii))
        for name in ("msa_cross_radius", "source_radius"):
            object.__setattr__(self, name, _angle_arcsec(getattr(self, name), name))
        for name in ("exptime_factor", "near_factor"):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidQueryError(f"{name} must be a number >= 1, got {value!r}.") from None
            if not math.isfinite(value) or value < 1:
                raise InvalidQueryError(f"{name} must be a finite number >= 1, got {value!r}.")
            object.__setattr__(self, name, value)

    def radius_for(self, aperture):
        """
        The duplication radius of an aperture.

        Parameters
        ----------
        aperture : str
            One of `APERTURES`, case-insensitive.

        Returns
        -------
        radius : `~astropy.units.Quantity`
            In arcsec.

        Raises
        ------
        astroquery.exceptions.InvalidQueryError
            For an unknown aperture.

        Examples
        --------
        >>> from astroquery_nirspec.duplication import DuplicationRules
        >>> DuplicationRules().radius_for('MSA')
        <Quantity 180. arcsec>
        """
        key = str(aperture).strip().upper()
        if key not in self.radii:
            raise InvalidQueryError(
                f"Unknown aperture '{aperture}'; accepted: {', '.join(APERTURES)}.")
        return self.radii[key]

    def radii_for(self, apertures):
        """
        The duplication radius of each aperture of a list (once per distinct aperture).

        Parameters
        ----------
        apertures : array-like of str
            Each one of `APERTURES`, case-insensitive.

        Returns
        -------
        radii : `~astropy.units.Quantity`
            In arcsec, one per aperture.

        Raises
        ------
        astroquery.exceptions.InvalidQueryError
            For an unknown aperture, as
            `~astroquery_nirspec.duplication.DuplicationRules.radius_for`.

        Examples
        --------
        >>> from astroquery_nirspec.duplication import DuplicationRules
        >>> rules = DuplicationRules()
        >>> rules.radii_for(['MSA', 'IFU', 'S200A1'])
        <Quantity [180. ,   4. ,   3.3] arcsec>
        """
        distinct, inverse = np.unique(np.asarray(apertures, dtype=str), return_inverse=True)
        radii = [self.radius_for(a).to_value(u.arcsec) for a in distinct.tolist()]
        return np.array(radii, dtype=float).reshape(-1)[inverse.reshape(-1)] * u.arcsec

    @property
    def exptime_range(self):
        """The accepted (min, max) archived/planned exposure ratio."""
        return 1.0 / self.exptime_factor, self.exptime_factor

    def as_meta(self):
        """
        The rules as plain values, for a result table's ``meta``.

        Returns
        -------
        meta : dict

        Examples
        --------
        >>> from astroquery_nirspec.duplication import DuplicationRules
        >>> meta = DuplicationRules().as_meta()
        >>> meta['radii_arcsec']['IFU'], meta['exptime_ratio_min'], meta['exptime_ratio_max']
        (4.0, 0.25, 4.0)
        """
        lo, hi = self.exptime_range
        return {
            "radii_arcsec": {key: float(value.value) for key, value in self.radii.items()},
            "msa_cross_radius_arcsec": float(self.msa_cross_radius.value),
            "source_radius_arcsec": float(self.source_radius.value),
            "exptime_factor": self.exptime_factor,
            "exptime_ratio_min": lo,
            "exptime_ratio_max": hi,
            "near_factor": self.near_factor,
            "rules": [
                "position: great-circle separation between the target and the observation "
                "centre (s_ra, s_dec) within the target aperture's radius; for a fixed-slit "
                "or IFU target an MSA observation within msa_cross_radius also counts",
                "configuration: same mode (MOS, IFU, FS or BOTS), same grating and same filter; "
                "BOTS against FS through S1600A1, either way, is a soft failure (same aperture "
                "and elements, different template)",
                "exposure: archived total / planned total within "
                "[1/exptime_factor, exptime_factor], inclusive",
                "only NIRSpec science spectroscopy (intentType science; no imaging, target "
                "acquisition or calibration); planned (calib_level -1) observations count; "
                "a NIRSpec science row that cannot be fully classified is judged and its "
                "reason says what is unknown",
                "DUPLICATE: every criterion met; POSSIBLE: exactly one soft failure (same band "
                "and filter at the other resolution, exposure ratio outside the factor, centre "
                "within near_factor x radius, BOTS against FS through S1600A1, mode or "
                "configuration unknown, or exposure time unknown); "
                "otherwise NOT_DUPLICATE",
            ],
        }
