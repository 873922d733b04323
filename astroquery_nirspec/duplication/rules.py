"""
NIRSpec duplication rules: instrument facts as data, and the pure checks.

Nothing in this module performs I/O. It knows:

- the NIRSpec apertures, their observing modes and their duplication search radii;
- the nine valid disperser/filter pairs, with each grating's band and resolution class;
- how MAST's CAOM encodes NIRSpec (``instrument_name``, ``filters``, ``obs_id``);
- how to group CAOM rows into observations and configurations with a total exposure time
  (`group_observations`);
- how to compare planned targets with those groups and give a verdict (`evaluate`).

Sources for the numbers: JDox "Identifying Potential JWST Duplicate Observations"
(Table 1: NIRSpec MOS 180", IFU 4"), JDox "NIRSpec Fixed Slits" (slit lengths, used as the
fixed-slit radii) and JDox "NIRSpec Dispersers and Filters".
"""
# Standard library
import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType

# Third party
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Column, MaskedColumn, Table
from astroquery.exceptions import InvalidQueryError

__all__ = [
    "DUPLICATION_RADII",
    "MSA_CROSS_RADIUS",
    "APERTURES",
    "APERTURE_MODE",
    "INSTRUMENT_MODE",
    "SPECTROSCOPIC_MODES",
    "GRATINGS",
    "FILTERS",
    "GRATING_FILTER_PAIRS",
    "GRATING_BAND",
    "GRATING_RESOLUTION",
    "GRATING_RESOLVING_POWER",
    "VERDICTS",
    "APT_URL",
    "valid_filters",
    "parse_filters",
    "parse_observation",
    "observation_label",
    "apt_url",
    "DuplicationRules",
    "group_observations",
    "evaluate",
]

# ---------------------------------------------------------------------------------------------
# NIRSpec facts
# ---------------------------------------------------------------------------------------------

#: Default duplication search radius per NIRSpec aperture (arcsec). MSA and IFU are the JDox
#: Table 1 values; the fixed slits use the slit's longest side (JDox "NIRSpec Fixed Slits").
DUPLICATION_RADII = {
    "MSA": 180.0 * u.arcsec,
    "IFU": 4.0 * u.arcsec,
    "S200A1": 3.3 * u.arcsec,
    "S200A2": 3.3 * u.arcsec,
    "S200B1": 3.3 * u.arcsec,
    "S400A1": 3.8 * u.arcsec,
    "S1600A1": 1.6 * u.arcsec,
}

#: Radius within which an MSA (MOS) observation counts against a fixed-slit or IFU target:
#: "NIRSpec FS or IFU spectroscopic observations can be considered duplications of MOS
#: observations of the same astronomical target".
MSA_CROSS_RADIUS = 180.0 * u.arcsec

#: The apertures a planned target may use.
APERTURES = tuple(DUPLICATION_RADII)

#: Observing mode of each aperture.
APERTURE_MODE = {
    "MSA": "MOS",
    "IFU": "IFU",
    "S200A1": "FS",
    "S200A2": "FS",
    "S200B1": "FS",
    "S400A1": "FS",
    "S1600A1": "FS",
}

#: Observing mode of each CAOM ``instrument_name``. ``IMAGE`` rows are not spectroscopy; a
#: bare ``NIRSPEC`` (older or planned rows) does not say its mode: it is ``UNKNOWN`` and counts
#: as spectroscopy only when its ``filters`` name a disperser.
INSTRUMENT_MODE = {
    "NIRSPEC/MSA": "MOS",
    "NIRSPEC/IFU": "IFU",
    "NIRSPEC/SLIT": "FS",
    "NIRSPEC/IMAGE": "IMAGE",
    "NIRSPEC": "UNKNOWN",
}

#: The spectroscopic modes a duplication check compares.
SPECTROSCOPIC_MODES = ("MOS", "IFU", "FS")

#: NIRSpec dispersers, in wavelength order.
GRATINGS = ("PRISM", "G140M", "G140H", "G235M", "G235H", "G395M", "G395H")

#: NIRSpec filters (F140X and F110W are used for target acquisition and imaging only).
FILTERS = ("CLEAR", "F070LP", "F100LP", "F170LP", "F290LP", "F140X", "F110W")

#: The nine valid (grating, filter) combinations for NIRSpec spectroscopy.
GRATING_FILTER_PAIRS = (
    ("PRISM", "CLEAR"),
    ("G140M", "F070LP"),
    ("G140M", "F100LP"),
    ("G140H", "F070LP"),
    ("G140H", "F100LP"),
    ("G235M", "F170LP"),
    ("G235H", "F170LP"),
    ("G395M", "F290LP"),
    ("G395H", "F290LP"),
)

#: Wavelength band of each grating (1: ~1-1.9 um, 2: ~1.7-3.2 um, 3: ~2.9-5.3 um); the prism
#: covers all of them and has no band (None).
GRATING_BAND = {
    "PRISM": None,
    "G140M": 1, "G140H": 1,
    "G235M": 2, "G235H": 2,
    "G395M": 3, "G395H": 3,
}

#: Resolution class of each disperser: ``PRISM`` (R ~ 100), ``M`` (R ~ 1000), ``H`` (R ~ 2700).
GRATING_RESOLUTION = {
    "PRISM": "PRISM",
    "G140M": "M", "G235M": "M", "G395M": "M",
    "G140H": "H", "G235H": "H", "G395H": "H",
}

#: Nominal resolving power of each resolution class.
GRATING_RESOLVING_POWER = {"PRISM": 100, "M": 1000, "H": 2700}

#: Verdicts, most severe first.
VERDICTS = ("DUPLICATE", "POSSIBLE", "NOT_DUPLICATE")

#: Public APT page of a JWST program.
APT_URL = "https://www.stsci.edu/jwst-program-info/program/?program={program}"

_GRATING_TOKEN = re.compile(r"^(PRISM|G\d{3}[MH])$")
_FILTER_TOKEN = re.compile(r"^(CLEAR|F\d{3}[A-Z]+)$")
# Level-3 (and other combined) products: jw02736-o007_s06355_nirspec_f290lp-g395m
_L3_OBS_ID = re.compile(r"^jw(\d{5})-o(\d{3})(?:_|$)", re.IGNORECASE)
# Exposure-level products, executed or planned: jw02736007001_03103_00001_nrs1,
# jw01208016001_xx106_00006_nirspec (program 5 digits, observation 3, visit 3)
_EXPOSURE_OBS_ID = re.compile(r"^jw(\d{5})(\d{3})(\d{3})_", re.IGNORECASE)
_DETECTOR_SUFFIX = re.compile(r"_nrs[12]$", re.IGNORECASE)


def valid_filters(grating):
    """
    The filters that may be used with a NIRSpec disperser.

    Parameters
    ----------
    grating : str
        Disperser name, case-insensitive (e.g. ``'G140H'``).

    Returns
    -------
    filters : tuple of str
        The valid filters, empty for an unknown disperser.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import valid_filters
    >>> valid_filters('g140h')
    ('F070LP', 'F100LP')
    """
    grating = str(grating).strip().upper()
    return tuple(f for g, f in GRATING_FILTER_PAIRS if g == grating)


def parse_filters(filters):
    """
    Split a CAOM ``filters`` value into its disperser and its filter.

    The tokens are separated by ``;`` and classified by their shape, in any order:
    ``PRISM`` or ``G<nnn><M|H>`` is the disperser; ``CLEAR`` or ``F<nnn>...`` is the filter.
    Other tokens (``MIRROR``, ``OPAQUE``, ...) are ignored, so an imaging or target-acquisition
    row has no disperser. If a value names two dispersers (or filters) the first one is used.

    Parameters
    ----------
    filters : str or None
        The CAOM ``filters`` value, e.g. ``'F290LP;G395H'``.

    Returns
    -------
    grating, filter : str or None
        Upper-case names, or None where the value names none.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import parse_filters
    >>> parse_filters('F290LP;G395H')
    ('G395H', 'F290LP')
    >>> parse_filters('prism;clear')
    ('PRISM', 'CLEAR')
    >>> parse_filters('F140X;MIRROR')
    (None, 'F140X')
    """
    grating = filt = None
    if filters is None or filters is np.ma.masked:
        return grating, filt
    for token in str(filters).replace(",", ";").split(";"):
        token = token.strip().upper()
        if grating is None and _GRATING_TOKEN.match(token):
            grating = token
        elif filt is None and _FILTER_TOKEN.match(token):
            filt = token
    return grating, filt


def parse_observation(obs_id):
    """
    Program and observation numbers of a JWST CAOM ``obs_id``.

    Both forms are understood: level-3 ``jwPPPPP-oOOO_...`` and exposure level
    ``jwPPPPPOOOVVV_...`` (executed, or planned with an ``xx`` placeholder).

    Parameters
    ----------
    obs_id : str
        A CAOM ``obs_id``.

    Returns
    -------
    program, observation : tuple of int, or None
        None when the value names no single observation (e.g. ``jw01345-c1001_...``
        association products that combine several observations).

    Examples
    --------
    >>> from astroquery_nirspec.duplication import parse_observation
    >>> parse_observation('jw02736-o007_s06355_nirspec_f290lp-g395m')
    (2736, 7)
    >>> parse_observation('jw01208016001_xx106_00006_nirspec')
    (1208, 16)
    >>> parse_observation('jw02736007001_03103_00001_nrs1')
    (2736, 7)
    >>> parse_observation('hst_12345_01_wfc3') is None
    True
    """
    if obs_id is None or obs_id is np.ma.masked:
        return None
    text = str(obs_id).strip()
    match = _L3_OBS_ID.match(text) or _EXPOSURE_OBS_ID.match(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def observation_label(program, observation):
    """
    The conventional label of a JWST observation, ``jwPPPPP-oOOO``.

    Parameters
    ----------
    program, observation : int
        Program (proposal) and observation numbers.

    Returns
    -------
    label : str

    Examples
    --------
    >>> from astroquery_nirspec.duplication import observation_label
    >>> observation_label(1345, 4)
    'jw01345-o004'
    """
    return f"jw{int(program):05d}-o{int(observation):03d}"


def apt_url(program):
    """
    The public program-information (APT) page of a JWST program.

    Parameters
    ----------
    program : int or str
        Program (proposal) ID.

    Returns
    -------
    url : str

    Examples
    --------
    >>> from astroquery_nirspec.duplication import apt_url
    >>> apt_url('01345')
    'https://www.stsci.edu/jwst-program-info/program/?program=1345'
    """
    return APT_URL.format(program=int(program))


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------

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

    def __post_init__(self):
        radii = {key: value.to(u.arcsec) for key, value in DUPLICATION_RADII.items()}
        for aperture, radius in dict(self.radii or {}).items():
            key = str(aperture).strip().upper()
            if key not in radii:
                raise InvalidQueryError(
                    f"Unknown aperture '{aperture}' in radii; accepted: {', '.join(APERTURES)}.")
            radii[key] = _angle_arcsec(radius, f"radii['{aperture}']")
        object.__setattr__(self, "radii", MappingProxyType(radii))
        object.__setattr__(self, "msa_cross_radius",
                           _angle_arcsec(self.msa_cross_radius, "msa_cross_radius"))
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
            "exptime_factor": self.exptime_factor,
            "exptime_ratio_min": lo,
            "exptime_ratio_max": hi,
            "near_factor": self.near_factor,
            "rules": [
                "position: great-circle separation between the target and the observation "
                "centre (s_ra, s_dec) within the target aperture's radius; for a fixed-slit "
                "or IFU target an MSA observation within msa_cross_radius also counts",
                "configuration: same mode, same grating and same filter",
                "exposure: archived total / planned total within "
                "[1/exptime_factor, exptime_factor], inclusive",
                "only NIRSpec science spectroscopy (intentType science; no imaging, target "
                "acquisition or calibration); planned (calib_level -1) observations count",
                "DUPLICATE: every criterion met; POSSIBLE: exactly one soft failure (same band "
                "and filter at the other resolution, exposure ratio outside the factor, centre "
                "within near_factor x radius, mode unknown, or exposure time unknown); "
                "otherwise NOT_DUPLICATE",
            ],
        }


# ---------------------------------------------------------------------------------------------
# Column helpers (CAOM columns may be masked, mixed case, or Quantities)
# ---------------------------------------------------------------------------------------------

def _find_column(table, name):
    """The column of ``table`` whose name matches ``name`` case-insensitively, or None."""
    for colname in table.colnames:
        if colname.lower() == name.lower():
            return table[colname]
    return None


def _str_values(col, n):
    """A list of stripped strings ('' for masked or missing)."""
    if col is None:
        return [""] * n
    mask = np.ma.getmaskarray(col)
    data = np.ma.getdata(col)
    return ["" if masked else str(value).strip() for value, masked in zip(data, mask)]


def _float_values(col, n, unit=None):
    """A float array (NaN for masked or missing), converted to ``unit`` if it carries one."""
    if col is None:
        return np.full(n, np.nan)
    if isinstance(col, u.Quantity):
        return np.asarray(col.to_value(unit) if unit is not None else col.value, dtype=float)
    values = np.ma.filled(np.ma.asanyarray(col).astype(float), np.nan)
    values = np.asarray(values, dtype=float)
    col_unit = getattr(col, "unit", None)
    if unit is not None and col_unit is not None:
        values = (values * u.Unit(col_unit)).to_value(unit)
    return values


def _finite_max(values):
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


_RIGHTS_PRIORITY = {"RESTRICTED": 0, "EXCLUSIVE_ACCESS": 1, "PUBLIC": 2}

_GROUP_COLUMNS = (
    ("observation", str), ("obs_id", str), ("proposal_id", str), ("program", int),
    ("instrument_name", str), ("mode", str), ("grating", str), ("filter", str),
    ("t_exptime", float), ("exptime_from", str), ("planned", bool), ("calib_level", int),
    ("s_ra", float), ("s_dec", float), ("dataRights", str), ("n_rows", int), ("n_exposures", int),
)
_GROUP_UNITS = {"t_exptime": u.s, "s_ra": u.deg, "s_dec": u.deg}


def group_observations(caom_rows):
    """
    Group CAOM rows into NIRSpec observations and configurations with a total exposure time.

    Rows that are not NIRSpec science spectroscopy are dropped first: other instruments or
    collections, ``intentType`` other than science (case-insensitive; a table without the column
    is taken as science only), ``NIRSPEC/IMAGE``, rows whose ``filters`` name no disperser
    (imaging, target acquisition), and rows whose ``obs_id`` names no single observation. The
    number dropped for each reason is in the result's ``meta['dropped']``.

    The remaining rows are grouped by observation (program + observation number, from
    ``obs_id``), mode, grating and filter. A bare ``NIRSPEC`` row adopts the mode of the other
    rows of its observation and configuration when they agree on one; otherwise its mode is
    ``UNKNOWN``.

    The total exposure time of a group is the largest level-3 ``t_exptime`` of the group (each
    level-3 row, e.g. one per MOS source, carries the total), or, without level-3 rows, the sum
    over distinct exposures of the level-1/2 and planned (``calib_level`` -1) rows, each
    exposure counted once (its ``obs_id`` without the ``_nrs1``/``_nrs2`` detector suffix).

    Parameters
    ----------
    caom_rows : `~astropy.table.Table`
        CAOM observation rows, e.g. from ``Observations.query_criteria``. Columns used
        (case-insensitive): ``obs_id``, ``instrument_name``, ``filters``, ``t_exptime``, ``s_ra``,
        ``s_dec``, ``calib_level``; optional: ``intentType``, ``obs_collection``,
        ``proposal_id``, ``dataRights``.

    Returns
    -------
    groups : `~astropy.table.Table`
        One row per observation and configuration, sorted by observation: ``observation``
        (``jwPPPPP-oOOO``), ``obs_id`` (a representative: the level-3 one if any),
        ``proposal_id``, ``program``, ``instrument_name``, ``mode`` (MOS/IFU/FS/UNKNOWN),
        ``grating``, ``filter``, ``t_exptime`` (total, s), ``exptime_from`` (``L3`` or
        ``exposures``), ``planned`` (only planned rows), ``calib_level`` (max), ``s_ra``,
        ``s_dec`` (deg, of the representative row; for MOS, of an exposure row when there is one,
        as the MSA radius is about the pointing), ``dataRights`` (the most restrictive),
        ``n_rows``, ``n_exposures``.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        If a required column is missing.

    Examples
    --------
    Two detectors of one exposure count once:

    >>> from astropy.table import Table
    >>> from astroquery_nirspec.duplication import group_observations
    >>> rows = Table(rows=[
    ...     ('jw01345004001_03101_00001_nrs1', 'NIRSPEC/SLIT', 'F290LP;G395H', 500., 10., 5., 2),
    ...     ('jw01345004001_03101_00001_nrs2', 'NIRSPEC/SLIT', 'F290LP;G395H', 500., 10., 5., 2),
    ...     ('jw01345004001_03101_00002_nrs1', 'NIRSPEC/SLIT', 'F290LP;G395H', 500., 10., 5., 2)],
    ...     names=['obs_id', 'instrument_name', 'filters', 't_exptime', 's_ra', 's_dec',
    ...            'calib_level'])
    >>> groups = group_observations(rows)
    >>> print(groups['observation'][0], groups['mode'][0], groups['t_exptime'][0])
    jw01345-o004 FS 1000.0
    """
    if not isinstance(caom_rows, Table):
        raise InvalidQueryError(f"caom_rows must be an astropy Table, got {type(caom_rows).__name__}.")
    n = len(caom_rows)
    required = ("obs_id", "instrument_name", "filters", "t_exptime", "s_ra", "s_dec", "calib_level")
    for name in required:
        if _find_column(caom_rows, name) is None:
            raise InvalidQueryError(
                f"CAOM rows lack the column '{name}'; required: {', '.join(required)}.")

    obs_ids = _str_values(_find_column(caom_rows, "obs_id"), n)
    instruments = [s.upper() for s in _str_values(_find_column(caom_rows, "instrument_name"), n)]
    filters = _str_values(_find_column(caom_rows, "filters"), n)
    exptimes = _float_values(_find_column(caom_rows, "t_exptime"), n, u.s)
    ras = _float_values(_find_column(caom_rows, "s_ra"), n, u.deg)
    decs = _float_values(_find_column(caom_rows, "s_dec"), n, u.deg)
    levels = _float_values(_find_column(caom_rows, "calib_level"), n)
    intent_col = _find_column(caom_rows, "intentType")
    intents = [s.lower() for s in _str_values(intent_col, n)] if intent_col is not None else ["science"] * n
    collection_col = _find_column(caom_rows, "obs_collection")
    collections = [s.upper() for s in _str_values(collection_col, n)] if collection_col is not None \
        else ["JWST"] * n
    proposal_ids = _str_values(_find_column(caom_rows, "proposal_id"), n)
    rights = [s.upper() for s in _str_values(_find_column(caom_rows, "dataRights"), n)]

    dropped = {"not_nirspec": 0, "not_science": 0, "not_spectroscopy": 0, "no_observation": 0}
    kept = []  # dicts, one per row used
    for i in range(n):
        mode = INSTRUMENT_MODE.get(instruments[i])
        if collections[i] != "JWST" or mode is None:
            dropped["not_nirspec"] += 1
            continue
        if intents[i] != "science":
            dropped["not_science"] += 1
            continue
        grating, filt = parse_filters(filters[i])
        if mode == "IMAGE" or grating is None:
            dropped["not_spectroscopy"] += 1
            continue
        parsed = parse_observation(obs_ids[i])
        if parsed is None:
            dropped["no_observation"] += 1
            continue
        level = int(levels[i]) if math.isfinite(levels[i]) else 0
        kept.append(dict(index=i, program=parsed[0], observation=observation_label(*parsed),
                         mode=mode, grating=grating, filter=filt or "", level=level))

    # A bare NIRSPEC row adopts the single known mode of its observation and configuration.
    known_modes = {}
    for row in kept:
        if row["mode"] != "UNKNOWN":
            key = (row["observation"], row["grating"], row["filter"])
            known_modes.setdefault(key, set()).add(row["mode"])
    for row in kept:
        modes = known_modes.get((row["observation"], row["grating"], row["filter"]), set())
        if row["mode"] == "UNKNOWN" and len(modes) == 1:
            row["mode"] = next(iter(modes))

    buckets = {}
    for row in kept:
        key = (row["observation"], row["mode"], row["grating"], row["filter"])
        buckets.setdefault(key, []).append(row)

    out = {name: [] for name, _ in _GROUP_COLUMNS}
    for key in sorted(buckets):
        rows = buckets[key]
        level3 = [r for r in rows if r["level"] >= 3]
        exposures_rows = [r for r in rows if r["level"] < 3]
        # one value per exposure: its obs_id without the detector suffix
        exposures = {}
        for r in exposures_rows:
            exposure = _DETECTOR_SUFFIX.sub("", obs_ids[r["index"]]).lower()
            exposures.setdefault(exposure, []).append(exptimes[r["index"]])
        total_l3 = _finite_max([exptimes[r["index"]] for r in level3])
        per_exposure = [_finite_max(values) for values in exposures.values()]
        finite = [v for v in per_exposure if math.isfinite(v)]
        if math.isfinite(total_l3):
            total, source = total_l3, "L3"
        else:
            total, source = (math.fsum(finite) if finite else math.nan), "exposures"

        by_obs_id = sorted(rows, key=lambda r: obs_ids[r["index"]])
        if level3:
            representative = max(sorted(level3, key=lambda r: obs_ids[r["index"]]),
                                 key=lambda r: (exptimes[r["index"]] if math.isfinite(exptimes[r["index"]])
                                                else -math.inf))
        else:
            representative = by_obs_id[0]
        position_row = representative
        if key[1] == "MOS" and exposures_rows:
            position_row = sorted(exposures_rows, key=lambda r: obs_ids[r["index"]])[0]

        first = rows[0]
        proposal = proposal_ids[representative["index"]] or str(first["program"])
        group_rights = [rights[r["index"]] for r in rows if rights[r["index"]]]
        out["observation"].append(key[0])
        out["obs_id"].append(obs_ids[representative["index"]])
        out["proposal_id"].append(proposal)
        out["program"].append(first["program"])
        out["instrument_name"].append(instruments[representative["index"]])
        out["mode"].append(key[1])
        out["grating"].append(key[2])
        out["filter"].append(key[3])
        out["t_exptime"].append(total)
        out["exptime_from"].append(source)
        out["planned"].append(all(r["level"] == -1 for r in rows))
        out["calib_level"].append(max(r["level"] for r in rows))
        out["s_ra"].append(ras[position_row["index"]])
        out["s_dec"].append(decs[position_row["index"]])
        out["dataRights"].append(min(group_rights, key=lambda s: _RIGHTS_PRIORITY.get(s, 3))
                                 if group_rights else "")
        out["n_rows"].append(len(rows))
        out["n_exposures"].append(len(exposures))

    groups = Table()
    for name, dtype in _GROUP_COLUMNS:
        groups[name] = Column(np.array(out[name], dtype=dtype if dtype is not str else str),
                              unit=_GROUP_UNITS.get(name))
    groups.meta["dropped"] = dropped
    return groups


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------

_SEVERITY = {verdict: rank for rank, verdict in enumerate(VERDICTS)}
_RATIO_RTOL = 1e-9  # inclusive bounds survive floating-point rounding of the ratio


def _fmt(value):
    return f"{value:g}"


def _separations_arcsec(target_coords, group_coords, chunk=256):
    """Targets x groups separation matrix in arcsec (chunked over targets to bound memory)."""
    result = np.empty((len(target_coords), len(group_coords)))
    for start in range(0, len(target_coords), chunk):
        block = target_coords[start:start + chunk]
        result[start:start + chunk] = block[:, np.newaxis].separation(
            group_coords[np.newaxis, :]).arcsec
    return result


def _describe_pair(target, group, sep, radius, cross, position_ok, mode_ok, mode_unknown,
                   same_elements, other_resolution, ratio, exptime_ok, exptime_known, rules):
    """Human-readable parts of a reason: (failure summaries, detail sentences)."""
    soft, hard, details = [], [], []
    what = "MSA field centre" if cross else "centre"
    kind = "MOS cross-check radius" if cross else "radius"
    if position_ok:
        details.append(f'{what} {sep:.2f}" from the target, within the {_fmt(radius)}" {kind}')
    else:
        soft.append("centre just outside the radius")
        details.append(f'{what} {sep:.2f}" from the target, outside the {_fmt(radius)}" {kind} '
                       f'but within {_fmt(rules.near_factor)}x')
    planned_config = f"{target['grating']}/{target['filter']}"
    archived_config = f"{group['grating']}/{group['filter']}"
    if mode_unknown:
        soft.append("mode unknown")
        details.append(f"mode not recorded (instrument_name {group['instrument_name'] or 'NIRSPEC'})")
    elif not mode_ok:
        hard.append("different mode")
        details.append(f"different mode: {group['mode']} observation, {target['mode']} target")
    elif cross:
        details.append(f"an MSA (MOS) observation counts against an {target['mode']} target")
    else:
        details.append(f"same mode ({group['mode']})")
    if same_elements:
        details.append(f"same configuration {archived_config}")
    elif other_resolution:
        soft.append("same band at the other resolution")
        details.append(f"same band and filter at the other resolution: {archived_config} "
                       f"vs planned {planned_config}")
    else:
        hard.append("different configuration")
        details.append(f"different configuration: {archived_config} vs planned {planned_config}")
    lo, hi = rules.exptime_range
    if not exptime_known:
        soft.append("exposure time unknown")
        details.append("no usable archived exposure time")
    else:
        inside = "within" if exptime_ok else "outside"
        details.append(f"exposure ratio {ratio:.3g} ({group['t_exptime']:.6g} s archived / "
                       f"{target['exposure_time']:.6g} s planned) {inside} [{_fmt(lo)}, {_fmt(hi)}]")
        if not exptime_ok:
            soft.append("exposure ratio outside the factor")
    details.append("planned (not yet executed)" if group["planned"] else "executed")
    return soft, hard, details


def evaluate(targets, groups, rules=None):
    """
    Check planned NIRSpec targets against grouped observations.

    Each target is compared with every group whose centre lies within ``near_factor`` times
    its radius (great-circle separation, `~astropy.coordinates.SkyCoord.separation`). The
    radius is the target aperture's, or ``msa_cross_radius`` for an MSA observation of a
    fixed-slit or IFU target. Three criteria are reported separately:

    - ``position_ok``: separation <= radius;
    - ``config_ok``: same mode (or an MSA observation of an FS/IFU target, ``mode_ok``), same
      grating and same filter;
    - ``exptime_ok``: archived total / planned total within ``[1/f, f]`` inclusive.

    ``DUPLICATE`` when all hold. ``POSSIBLE`` when exactly one soft failure occurs and nothing
    else fails: the same band and filter at the other resolution (M vs H), an exposure ratio
    outside the factor, a centre beyond the radius but within ``near_factor`` times it, a mode
    that the archive does not record (bare ``NIRSPEC``), or no usable exposure time. Otherwise
    ``NOT_DUPLICATE``. A target with no group near it gets one ``NOT_DUPLICATE`` row with the
    observation columns masked.

    Parameters
    ----------
    targets : `~astropy.table.Table`, str, or list of dict
        Planned targets, anything `~astroquery_nirspec.duplication.read_targets` accepts.
    groups : `~astropy.table.Table`
        The output of `group_observations`. Raw CAOM rows (with ``filters`` and no
        ``observation`` column) are grouped first.
    rules : `DuplicationRules`, optional
        Radii and factors; the defaults if omitted.

    Returns
    -------
    result : `~astropy.table.Table`
        One row per (target, observation, configuration) near the target, in target order, then
        by verdict severity and separation. ``meta`` holds the rules used (`DuplicationRules.as_meta`).

    Examples
    --------
    >>> from astropy.table import Table
    >>> from astroquery_nirspec.duplication import evaluate, group_observations
    >>> caom = Table(rows=[('jw01345-o004_t001_nirspec_f290lp-g395h-s200a1', 'NIRSPEC/SLIT',
    ...                     'F290LP;G395H', 3000., 150.0, 2.0, 3, 'science')],
    ...              names=['obs_id', 'instrument_name', 'filters', 't_exptime', 's_ra',
    ...                     's_dec', 'calib_level', 'intentType'])
    >>> targets = [dict(name='A', ra=150.0, dec=2.0, aperture='S200A1', grating='G395H',
    ...                 filter='F290LP', exposure_time=1000)]
    >>> result = evaluate(targets, group_observations(caom))
    >>> print(result['target'][0], result['observation'][0], result['verdict'][0])
    A jw01345-o004 DUPLICATE
    """
    from .targets import read_targets  # local import: targets.py imports this module

    rules = DuplicationRules() if rules is None else rules
    if not isinstance(rules, DuplicationRules):
        raise InvalidQueryError(f"rules must be a DuplicationRules, got {type(rules).__name__}.")
    targets = read_targets(targets)
    if not isinstance(groups, Table):
        raise InvalidQueryError(f"groups must be an astropy Table, got {type(groups).__name__}.")
    if "observation" not in groups.colnames and _find_column(groups, "filters") is not None:
        groups = group_observations(groups)
    n_groups = len(groups)
    for name in ("observation", "mode", "grating", "filter", "t_exptime", "s_ra", "s_dec"):
        if name not in groups.colnames:
            raise InvalidQueryError(
                f"groups lack the column '{name}'; pass the output of group_observations.")

    g = {
        "observation": _str_values(groups["observation"], n_groups),
        "obs_id": _str_values(_find_column(groups, "obs_id"), n_groups),
        "proposal_id": _str_values(_find_column(groups, "proposal_id"), n_groups),
        "instrument_name": _str_values(_find_column(groups, "instrument_name"), n_groups),
        "mode": [s.upper() for s in _str_values(groups["mode"], n_groups)],
        "grating": [s.upper() for s in _str_values(groups["grating"], n_groups)],
        "filter": [s.upper() for s in _str_values(groups["filter"], n_groups)],
        "t_exptime": _float_values(groups["t_exptime"], n_groups, u.s),
        "s_ra": _float_values(groups["s_ra"], n_groups, u.deg),
        "s_dec": _float_values(groups["s_dec"], n_groups, u.deg),
        "calib_level": _float_values(_find_column(groups, "calib_level"), n_groups),
        "dataRights": _str_values(_find_column(groups, "dataRights"), n_groups),
        "n_rows": _float_values(_find_column(groups, "n_rows"), n_groups),
    }
    planned_col = _find_column(groups, "planned")
    g["planned"] = (np.asarray(np.ma.filled(planned_col, False), dtype=bool) if planned_col is not None
                    else g["calib_level"] == -1)

    # Groups without a usable position cannot be matched.
    positioned = np.isfinite(g["s_ra"]) & np.isfinite(g["s_dec"])
    group_index = np.flatnonzero(positioned)
    if len(targets) and len(group_index):
        group_coords = SkyCoord(g["s_ra"][group_index] * u.deg, g["s_dec"][group_index] * u.deg,
                                frame="icrs")
        separations = _separations_arcsec(targets["coord"], group_coords)
    else:
        separations = np.empty((len(targets), 0))

    lo, hi = rules.exptime_range
    cross_radius = rules.msa_cross_radius.to_value(u.arcsec)
    group_is_mos = np.array([g["mode"][j] == "MOS" for j in group_index], dtype=bool)
    records = []
    for i, target in enumerate(targets):
        t_mode = target["mode"]
        t_radius = rules.radius_for(target["aperture"]).to_value(u.arcsec)
        # radius per group: the MOS cross-check radius for an MSA observation of an FS/IFU target
        crosses = group_is_mos & (t_mode in ("FS", "IFU"))
        radii = np.where(crosses, max(t_radius, cross_radius), t_radius)
        near = separations[i] <= rules.near_factor * radii
        found = []
        for column in np.flatnonzero(near):
            j = group_index[column]
            sep, radius, cross = separations[i, column], radii[column], bool(crosses[column])
            c_mode = g["mode"][j]
            group = {key: values[j] for key, values in g.items()}
            position_ok = bool(sep <= radius)
            mode_ok = c_mode == t_mode or cross
            mode_unknown = c_mode not in SPECTROSCOPIC_MODES
            same_elements = group["grating"] == target["grating"] and group["filter"] == target["filter"]
            other_resolution = (
                group["filter"] == target["filter"]
                and GRATING_BAND.get(group["grating"]) is not None
                and GRATING_BAND.get(group["grating"]) == GRATING_BAND.get(target["grating"])
                and GRATING_RESOLUTION.get(group["grating"]) != GRATING_RESOLUTION.get(target["grating"]))
            ratio = group["t_exptime"] / target["exposure_time"]
            exptime_known = bool(np.isfinite(ratio) and ratio > 0)
            exptime_ok = exptime_known and lo * (1 - _RATIO_RTOL) <= ratio <= hi * (1 + _RATIO_RTOL)
            soft, hard, details = _describe_pair(
                target, group, sep, radius, cross, position_ok, mode_ok, mode_unknown,
                same_elements, other_resolution, ratio, exptime_ok, exptime_known, rules)
            if hard:
                verdict = "NOT_DUPLICATE"
                summary = ", ".join(hard)
                if soft:
                    summary += "; also " + ", ".join(soft)
            elif not soft:
                verdict, summary = "DUPLICATE", "all criteria met"
            elif len(soft) == 1:
                verdict, summary = "POSSIBLE", f"one soft failure ({soft[0]})"
            else:
                verdict, summary = "NOT_DUPLICATE", f"{len(soft)} soft failures ({', '.join(soft)})"
            program = parse_observation(group["observation"])
            found.append(dict(
                observation=group["observation"], obs_id=group["obs_id"],
                proposal_id=group["proposal_id"],
                apt_url=apt_url(program[0]) if program else "",
                instrument_name=group["instrument_name"], mode=c_mode,
                grating=group["grating"], filter=group["filter"],
                calib_level=int(group["calib_level"]) if np.isfinite(group["calib_level"]) else None,
                planned=bool(group["planned"]), dataRights=group["dataRights"],
                t_exptime=group["t_exptime"], exptime_ratio=ratio if exptime_known else np.nan,
                s_ra=group["s_ra"], s_dec=group["s_dec"], separation=sep, radius=radius,
                n_rows=int(group["n_rows"]) if np.isfinite(group["n_rows"]) else None,
                position_ok=position_ok, mode_ok=bool(mode_ok),
                config_ok=bool(mode_ok and same_elements), exptime_ok=bool(exptime_ok),
                verdict=verdict, reason=f"{summary}: " + "; ".join(details)))
        found.sort(key=lambda r: (_SEVERITY[r["verdict"]], r["separation"], r["observation"]))
        if not found:
            found.append(dict(
                radius=t_radius, position_ok=False, mode_ok=False, config_ok=False,
                exptime_ok=False, verdict="NOT_DUPLICATE",
                reason=(f"no NIRSpec science spectroscopy within {_fmt(rules.near_factor)} x the "
                        f'{_fmt(t_radius)}" radius' + (
                            f' (or {_fmt(rules.near_factor)} x the '
                            f'{_fmt(rules.msa_cross_radius.to_value(u.arcsec))}" MOS cross-check '
                            "radius for MSA observations)" if t_mode in ("FS", "IFU") else ""))))
        for record in found:
            record.update(target=target["name"], target_aperture=target["aperture"],
                          target_mode=t_mode, target_grating=target["grating"],
                          target_filter=target["filter"], target_exptime=target["exposure_time"])
            records.append(record)

    return _result_table(records, rules)


# name, dtype, unit, masked for rows without a candidate
_RESULT_COLUMNS = (
    ("target", str, None, False),
    ("target_aperture", str, None, False),
    ("target_mode", str, None, False),
    ("target_grating", str, None, False),
    ("target_filter", str, None, False),
    ("target_exptime", float, u.s, False),
    ("observation", str, None, True),
    ("obs_id", str, None, True),
    ("proposal_id", str, None, True),
    ("apt_url", str, None, True),
    ("instrument_name", str, None, True),
    ("mode", str, None, True),
    ("grating", str, None, True),
    ("filter", str, None, True),
    ("calib_level", int, None, True),
    ("planned", bool, None, True),
    ("dataRights", str, None, True),
    ("t_exptime", float, u.s, True),
    ("exptime_ratio", float, None, True),
    ("s_ra", float, u.deg, True),
    ("s_dec", float, u.deg, True),
    ("separation", float, u.arcsec, True),
    ("radius", float, u.arcsec, False),
    ("n_rows", int, None, True),
    ("position_ok", bool, None, False),
    ("mode_ok", bool, None, False),
    ("config_ok", bool, None, False),
    ("exptime_ok", bool, None, False),
    ("verdict", str, None, False),
    ("reason", str, None, False),
)

_FILL = {str: "", float: np.nan, int: 0, bool: False}


def _result_table(records, rules):
    table = Table(meta=rules.as_meta())
    for name, dtype, unit, maskable in _RESULT_COLUMNS:
        values = [record.get(name) for record in records]
        mask = [value is None for value in values]
        data = np.array([_FILL[dtype] if value is None else value for value in values],
                        dtype=dtype if dtype is not str else str)
        if dtype is str and len(data) == 0:
            data = data.astype("U1")
        if maskable:
            table[name] = MaskedColumn(data, mask=mask, unit=unit)
        else:
            table[name] = Column(data, unit=unit)
    return table
