"""
Reading and validating a list of planned NIRSpec targets (pure: no network).
"""
# Standard library
import math
import os

# Third party
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io.registry import IORegistryError
from astropy.table import Column, Table
from astroquery.exceptions import InvalidQueryError

# Local
from .nirspec import (APERTURE_MODE, APERTURES, GRATING_FILTER_PAIRS, GRATINGS, MODE_APERTURES, MODES,
                      valid_filters)

__all__ = ["read_targets", "TargetList", "TARGET_COLUMNS"]

#: Columns of a normalised target table, in order.
TARGET_COLUMNS = ("name", "ra", "dec", "coord", "aperture", "mode", "grating", "filter",
                  "exposure_time")

_REQUIRED = ("name", "aperture", "grating", "filter", "exposure_time")
_REQUIRED_TEXT = "name, ra and dec (or a SkyCoord column coord), aperture, grating, filter, exposure_time"


class TargetList(Table):
    """
    A target table validated by `read_targets` (its output type).

    `read_targets` returns a `TargetList` as it is, so the checks that take targets validate
    them once however many of them the targets pass through. Slices and copies stay valid;
    to change a value, edit a plain `~astropy.table.Table` and read it again.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import TargetList, read_targets
    >>> targets = read_targets([{"name": "A", "ra": 10, "dec": -20, "aperture": "IFU",
    ...                          "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}])
    >>> isinstance(targets, TargetList), read_targets(targets) is targets
    (True, True)
    """


def _row_label(index, names):
    """'row 3 (target 'X')' with a 0-based index, naming the target when known."""
    name = names[index] if names is not None and index < len(names) else None
    return f"row {index} (target '{name}')" if name else f"row {index}"


def _is_missing(value):
    return value is None or value is np.ma.masked or (
        isinstance(value, float) and math.isnan(value))


def _load(targets):
    """Turn the accepted inputs into (dict lower-case name -> column-like, n_rows, source)."""
    source = ""
    if isinstance(targets, (str, os.PathLike)):
        path = os.fspath(targets)
        if not os.path.isfile(path):
            raise InvalidQueryError(f"Cannot read targets from '{path}': no such file.")
        try:
            try:
                table = Table.read(path)
            except IORegistryError:  # the extension does not identify the format
                table = Table.read(path, format="ascii")
        except Exception as err:  # any reader failure: report it with the path
            raise InvalidQueryError(
                f"Cannot read targets from '{path}': {str(err).strip().splitlines()[0]}. Give a "
                "table file that astropy.table.Table.read reads (ECSV, CSV, FITS, VOTable), a "
                "Table or a list of dicts.") from err
        targets = table
        source = f" in '{path}'"

    if isinstance(targets, Table):
        columns = {}
        for colname in targets.colnames:
            key = colname.strip().lower()
            if key in columns:
                raise InvalidQueryError(
                    f"Targets{source} have two columns named '{key}' (ignoring case); keep one.")
            columns[key] = targets[colname]
        return columns, len(targets), source

    if isinstance(targets, dict):
        raise InvalidQueryError("Targets must be a Table, a file path or a list of dicts; "
                                "got a single dict (wrap it in a list).")
    if isinstance(targets, (list, tuple)):
        rows = []
        for index, row in enumerate(targets):
            if not isinstance(row, dict):
                raise InvalidQueryError(
                    f"Targets row {index} is a {type(row).__name__}, not a dict.")
            lowered = {}
            for key, value in row.items():
                lower = str(key).strip().lower()
                if lower in lowered:
                    raise InvalidQueryError(
                        f"Targets row {index} has two keys named '{lower}' (ignoring case).")
                lowered[lower] = value
            rows.append(lowered)
        keys = []
        for row in rows:
            keys.extend(key for key in row if key not in keys)
        columns = {key: [row.get(key) for row in rows] for key in keys}
        return columns, len(rows), source

    raise InvalidQueryError(
        f"Targets must be an astropy Table, a file path or a list of dicts, got {type(targets).__name__}.")


def _strings(column, what, names, n):
    """Stripped strings; a masked or empty value is an error naming its row."""
    mask = np.ma.getmaskarray(column) if isinstance(column, np.ma.MaskedArray) else np.zeros(n, bool)
    values = []
    for index in range(n):
        value = None if mask[index] else column[index]
        text = "" if _is_missing(value) else str(value).strip()
        if not text:
            raise InvalidQueryError(f"Targets {_row_label(index, names)} has no {what}.")
        values.append(text)
    return values


def _number_or_quantity(text, quantity_text):
    """A float, a Quantity (when allowed) or None for text that is neither."""
    try:
        return float(text)
    except ValueError:
        pass
    if quantity_text:
        try:
            return u.Quantity(text)
        except (TypeError, ValueError):
            pass
    return None


def _floats(column, what, names, n, unit, kind, unit_name, *, quantity_text):
    """
    Floats in ``unit`` from numbers, numeric strings or Quantities (and Quantities as
    text, e.g. ``"20 min"``, when ``quantity_text``); a column unit scales plain numbers.
    ``kind`` ("an angle", "a time") and ``unit_name`` ("degrees", "seconds") are the words
    of the messages.
    """
    column_unit = getattr(column, "unit", None)
    if isinstance(column, u.Quantity):
        column, column_unit = list(column), None
    scale = 1.0
    if column_unit is not None:
        try:
            scale = u.Unit(column_unit).to(unit)
        except u.UnitConversionError:
            raise InvalidQueryError(
                f"Targets column '{what}' must be {kind}, got unit '{column_unit}' "
                f"(give {unit_name}).") from None
    accepted_text = f" or {kind} Quantity" if quantity_text else ""
    mask = np.ma.getmaskarray(column) if isinstance(column, np.ma.MaskedArray) else np.zeros(n, bool)
    values = np.empty(n)
    for index in range(n):
        value = None if mask[index] else column[index]
        if isinstance(value, str):
            value = _number_or_quantity(value, quantity_text)
            if value is None:
                raise InvalidQueryError(
                    f"Targets {_row_label(index, names)}: {what} must be a number of "
                    f"{unit_name}{accepted_text}, got {column[index]!r}.")
        if isinstance(value, u.Quantity):
            try:
                values[index] = value.to_value(unit)
            except u.UnitConversionError:
                raise InvalidQueryError(
                    f"Targets {_row_label(index, names)}: {what} must be {kind}, got "
                    f"{value} (unit '{value.unit}').") from None
            continue
        try:
            values[index] = float(value) * scale
        except (TypeError, ValueError):
            raise InvalidQueryError(
                f"Targets {_row_label(index, names)}: {what} must be a number of {unit_name}, "
                f"got {value!r}.") from None
    return values


def _angles_deg(column, what, names, n):
    """Floats in degrees from numbers, numeric strings, or angle Quantities."""
    return _floats(column, what, names, n, u.deg, "an angle", "degrees", quantity_text=False)


def _seconds(column, names, n):
    """Positive exposure times in s from numbers, numeric strings or time Quantities."""
    values = _floats(column, "exposure_time", names, n, u.s, "a time", "seconds", quantity_text=True)
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if len(bad):
        index = bad[0]
        raise InvalidQueryError(
            f"Targets {_row_label(index, names)}: exposure_time must be a positive finite "
            f"time, got {column[index]!r}.")
    return values


def _coords(column, names, n):
    """ICRS SkyCoord from a SkyCoord column, or a list of scalar SkyCoords."""
    if not isinstance(column, SkyCoord):
        for index, value in enumerate(column):
            if not isinstance(value, SkyCoord):
                raise InvalidQueryError(
                    f"Targets {_row_label(index, names)}: coord must be a SkyCoord, got {value!r}.")
        column = SkyCoord(list(column))
    return column.icrs


def read_targets(targets):
    """
    Read and validate a list of planned NIRSpec targets.

    Column names are case-insensitive. Every row is checked before anything else happens.

    Parameters
    ----------
    targets : `~astropy.table.Table`, str or path-like, or list of dict
        The targets. A path is read with `astropy.table.Table.read` (format from the extension,
        e.g. ECSV or CSV, else any ASCII table). Columns:

        - ``name``: unique target name;
        - ``ra``, ``dec``: ICRS degrees (numbers or angle Quantities), or a `~astropy.coordinates.SkyCoord`
          column ``coord`` (which is used when both are given);
        - ``aperture``: one of MSA, IFU, S200A1, S200A2, S400A1, S1600A1, S200B1;
        - ``mode`` (optional): MOS, IFU, FS or BOTS; where absent or empty, the aperture's
          (MSA: MOS, IFU: IFU, a slit: FS). BOTS (bright-object time series) uses S1600A1;
        - ``grating``, ``filter``: one of the nine valid NIRSpec pairs;
        - ``exposure_time``: planned total on-target time, in s, or a time Quantity.

    Returns
    -------
    targets : `TargetList`
        A `~astropy.table.Table` (a `TargetList` is returned as it is) with columns ``name``,
        ``ra``, ``dec`` (float, deg), ``coord`` (ICRS SkyCoord), ``aperture``, ``mode``
        (MOS/IFU/FS/BOTS), ``grating``, ``filter`` (upper case), ``exposure_time`` (float, s).
        Other input columns are not kept.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For an unreadable file (naming the path), no targets, a missing column, or a bad value;
        the message names the column, the row (0-based) and target, and the accepted values.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astroquery_nirspec.duplication import read_targets
    >>> targets = read_targets([{'Name': 'SN 1987A', 'RA': 83.8667, 'Dec': -69.2697,
    ...                          'Aperture': 'ifu', 'Grating': 'g395h', 'Filter': 'f290lp',
    ...                          'Exposure_Time': 1 * u.hour}])
    >>> print(targets['name'][0], targets['aperture'][0], targets['mode'][0], targets['exposure_time'][0])
    SN 1987A IFU IFU 3600.0
    """
    if isinstance(targets, TargetList):
        return targets
    columns, n, source = _load(targets)
    if n == 0:
        raise InvalidQueryError(f"No targets given: the target list{source} is empty.")
    missing = [name for name in _REQUIRED if name not in columns]
    if "coord" not in columns:
        missing += [name for name in ("ra", "dec") if name not in columns]
    if missing:
        raise InvalidQueryError(
            f"Targets{source} lack the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}; required: {_REQUIRED_TEXT}.")

    names = _unique_names(columns["name"], n)
    ra, dec = _positions(columns, names, n)
    apertures, gratings, filters = _configurations(columns, names, n)
    modes = _modes(columns.get("mode"), apertures, names, n)
    exposure = _seconds(columns["exposure_time"], names, n)

    result = TargetList()
    result["name"] = Column(names, dtype=str)
    result["ra"] = Column(ra, unit=u.deg)
    result["dec"] = Column(dec, unit=u.deg)
    result["coord"] = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
    result["aperture"] = Column(apertures, dtype=str)
    result["mode"] = Column(modes, dtype=str)
    result["grating"] = Column(gratings, dtype=str)
    result["filter"] = Column(filters, dtype=str)
    result["exposure_time"] = Column(exposure, unit=u.s)
    return result


def _unique_names(column, n):
    """The target names, each present and unique."""
    names = _strings(column, "name", None, n)
    seen = {}
    for index, name in enumerate(names):
        if name in seen:
            raise InvalidQueryError(
                f"Duplicate target name '{name}' in rows {seen[name]} and {index}; names must be unique.")
        seen[name] = index
    return names


def _positions(columns, names, n):
    """ICRS (ra, dec) in degrees, from ``coord`` when given, else from ``ra`` and ``dec``."""
    if "coord" in columns:
        coords = _coords(columns["coord"], names, n)
        ra = np.asarray(coords.ra.deg, dtype=float)
        dec = np.asarray(coords.dec.deg, dtype=float)
    else:
        ra = _angles_deg(columns["ra"], "ra", names, n)
        dec = _angles_deg(columns["dec"], "dec", names, n)
    for index in range(n):
        if not (math.isfinite(ra[index]) and 0 <= ra[index] < 360):
            raise InvalidQueryError(
                f"Targets {_row_label(index, names)}: ra must be in [0, 360) degrees, "
                f"got {float(ra[index])!r}.")
        if not (math.isfinite(dec[index]) and -90 <= dec[index] <= 90):
            raise InvalidQueryError(
                f"Targets {_row_label(index, names)}: dec must be in [-90, 90] degrees, "
                f"got {float(dec[index])!r}.")
    return ra, dec


def _configurations(columns, names, n):
    """Upper-case apertures, gratings and filters, each known and each pair valid."""
    apertures = [value.upper() for value in _strings(columns["aperture"], "aperture", names, n)]
    gratings = [value.upper() for value in _strings(columns["grating"], "grating", names, n)]
    filters = [value.upper() for value in _strings(columns["filter"], "filter", names, n)]
    for index in range(n):
        label = _row_label(index, names)
        if apertures[index] not in APERTURE_MODE:
            raise InvalidQueryError(
                f"Targets {label}: unknown aperture '{apertures[index]}'; accepted: {', '.join(APERTURES)}.")
        if gratings[index] not in GRATINGS:
            raise InvalidQueryError(
                f"Targets {label}: unknown grating '{gratings[index]}'; accepted: {', '.join(GRATINGS)}.")
        if (gratings[index], filters[index]) not in GRATING_FILTER_PAIRS:
            raise InvalidQueryError(
                f"Targets {label}: invalid grating/filter pair {gratings[index]}/{filters[index]}; "
                f"valid filters for {gratings[index]}: {', '.join(valid_filters(gratings[index]))}.")
    return apertures, gratings, filters


def _modes(column, apertures, names, n):
    """Each target's mode: the ``mode`` column where given, else its aperture's."""
    mask = np.ma.getmaskarray(column) if isinstance(column, np.ma.MaskedArray) else np.zeros(n, bool)
    modes = []
    for index in range(n):
        value = None if column is None or mask[index] else column[index]
        mode = "" if _is_missing(value) else str(value).strip().upper()
        if not mode:
            modes.append(APERTURE_MODE[apertures[index]])
            continue
        label = _row_label(index, names)
        if mode not in MODES:
            raise InvalidQueryError(
                f"Targets {label}: unknown mode '{value}'; accepted: {', '.join(MODES)} "
                "(or leave it empty to take the aperture's).")
        if apertures[index] not in MODE_APERTURES[mode]:
            raise InvalidQueryError(
                f"Targets {label}: mode {mode} cannot use aperture {apertures[index]}; "
                f"accepted for {mode}: {', '.join(MODE_APERTURES[mode])}.")
        modes.append(mode)
    return modes
