"""
The judge: planned targets against grouped observations, one verdict per near pair.

`evaluate` judges every near (target, observation) pair at once, as arrays: the pairs come
from separations computed in blocks of targets against the observations of their declination
band (`_pairs_within`), each criterion is a boolean array, and the reason of each distinct
combination of criteria is worded once (`_wording`) and then filled with each pair's numbers.
Pure, no I/O.
"""
from dataclasses import dataclass
from string import Formatter

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Column, MaskedColumn, Table
from astroquery.exceptions import InvalidQueryError

from .caom import apt_url, find_column, float_values, parse_observation, str_values
from .grouping import group_observations
from .nirspec import (BOTS_APERTURE, GRATING_BAND, GRATING_RESOLUTION, MSA_CROSS_MODES,
                      SPECTROSCOPIC_MODES)
from .rules import VERDICTS, DuplicationRules
from .targets import read_targets

__all__ = ["evaluate"]

_SEVERITY = {verdict: rank for rank, verdict in enumerate(VERDICTS)}
_RATIO_RTOL = 1e-9  # inclusive bounds survive floating-point rounding of the ratio
_GROUP_REQUIRED = ("observation", "mode", "grating", "filter", "t_exptime", "s_ra", "s_dec")


@dataclass(frozen=True)
class _Pairs:
    """The near (target, group) pairs and each criterion, one array element per pair."""

    target: np.ndarray         # target index
    group: np.ndarray          # group index
    separation: np.ndarray     # arcsec
    radius: np.ndarray         # arcsec, the radius that applies to the pair
    cross: np.ndarray          # an MSA observation of an FS/IFU target (the MOS cross-check)
    position_ok: np.ndarray
    mode_ok: np.ndarray
    mode_unknown: np.ndarray   # the archive does not record the mode
    template: np.ndarray       # BOTS against FS through S1600A1: same slit, another template
    same_elements: np.ndarray  # same grating and filter
    config_unknown: np.ndarray  # the archive does not record the grating
    other_resolution: np.ndarray  # same band and filter at the other resolution (M vs H)
    ratio: np.ndarray          # archived / planned total exposure time
    exptime_known: np.ndarray
    exptime_ok: np.ndarray


@dataclass(frozen=True)
class _Flags:
    """The facts that decide a pair's verdict and wording: one combination of them."""

    cross: bool
    position_ok: bool
    mode_unknown: bool
    template: bool
    mode_ok: bool
    same_elements: bool
    config_unknown: bool
    other_resolution: bool
    exptime_known: bool
    exptime_ok: bool
    planned: bool
    has_note: bool             # the group's note says what could not be classified
    slit_known: bool           # CAOM names the observation's slit


_FLAGS = tuple(_Flags.__dataclass_fields__)


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
        ``reason`` holds `str` objects (dtype object), each as long as it is.

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
    rules = DuplicationRules() if rules is None else rules
    if not isinstance(rules, DuplicationRules):
        raise InvalidQueryError(f"rules must be a DuplicationRules, got {type(rules).__name__}.")
    targets = read_targets(targets)
    g = _group_values(groups)
    t = _target_values(targets, rules)
    pairs = _near_pairs(targets, g, t, rules)
    severity, reasons = _judge(pairs, t, g, rules)
    return _result_table(pairs, severity, reasons, t, g, rules)


def _strings(values):
    """A numpy string array (``'<U1'`` when empty)."""
    return np.array(values, dtype=str) if len(values) else np.zeros(0, dtype="U1")


def _group_values(groups):
    """The group columns used, as arrays (raw CAOM rows are grouped first)."""
    if not isinstance(groups, Table):
        raise InvalidQueryError(f"groups must be an astropy Table, got {type(groups).__name__}.")
    if "observation" not in groups.colnames and find_column(groups, "filters") is not None:
        groups = group_observations(groups)
    n = len(groups)
    for name in _GROUP_REQUIRED:
        if name not in groups.colnames:
            raise InvalidQueryError(
                f"groups lack the column '{name}'; pass the output of group_observations.")
    g = {name: _strings(str_values(find_column(groups, name), n))
         for name in ("observation", "obs_id", "proposal_id", "instrument_name", "dataRights",
                      "note")}
    g.update({name: _strings([s.upper() for s in str_values(find_column(groups, name), n)])
              for name in ("mode", "grating", "filter", "aperture")})
    g.update({name: float_values(find_column(groups, name), n, unit)
              for name, unit in (("t_exptime", u.s), ("s_ra", u.deg), ("s_dec", u.deg),
                                 ("calib_level", None), ("n_rows", None))})
    planned = find_column(groups, "planned")
    g["planned"] = (np.asarray(np.ma.filled(planned, False), dtype=bool) if planned is not None
                    else g["calib_level"] == -1)
    programs = [parse_observation(label) for label in g["observation"]]
    g["apt_url"] = _strings([apt_url(p[0]) if p else "" for p in programs])
    g["band"] = np.array([_band(grating) for grating in g["grating"]], dtype=int)
    g["resolution"] = _strings([GRATING_RESOLUTION.get(grating, "") for grating in g["grating"]])
    return g


def _band(grating):
    band = GRATING_BAND.get(grating)
    return -1 if band is None else band


def _target_values(targets, rules):
    """The target columns used, as arrays, with each target's radius (arcsec)."""
    t = {name: np.asarray(targets[name]).astype(str)
         for name in ("name", "aperture", "mode", "grating", "filter")}
    t["exposure_time"] = np.asarray(targets["exposure_time"], dtype=float)
    t["radius"] = rules.radii_for(t["aperture"]).to_value(u.arcsec)
    t["cross"] = np.isin(t["mode"], MSA_CROSS_MODES)
    t["band"] = np.array([_band(grating) for grating in t["grating"]], dtype=int)
    t["resolution"] = _strings([GRATING_RESOLUTION.get(grating, "") for grating in t["grating"]])
    return t


def _near_pairs(targets, g, t, rules):
    """
    The pairs whose centre lies within ``near_factor`` times the pair's radius: the target
    aperture's, or the MOS cross-check radius for an MSA observation of an FS/IFU target.
    """
    cross_radius = rules.msa_cross_radius.to_value(u.arcsec)
    positioned = np.flatnonzero(np.isfinite(g["s_ra"]) & np.isfinite(g["s_dec"]))
    ti = gj = np.zeros(0, dtype=int)
    sep = np.zeros(0)
    if len(positioned):
        reach = rules.near_factor * max(t["radius"].max(), cross_radius if t["cross"].any() else 0)
        reach *= 1 + 1e-9                      # the exact cut per pair follows
        group_coords = SkyCoord(g["s_ra"][positioned] * u.deg, g["s_dec"][positioned] * u.deg,
                                frame="icrs")
        ti, column, sep = _pairs_within(targets["coord"], group_coords, reach)
        gj = positioned[column]
    cross = t["cross"][ti] & (g["mode"][gj] == "MOS")
    radius = np.where(cross, np.maximum(t["radius"][ti], cross_radius), t["radius"][ti])
    keep = sep <= rules.near_factor * radius
    order = np.lexsort((gj[keep], ti[keep]))
    ti, gj, sep = ti[keep][order], gj[keep][order], sep[keep][order]
    return _criteria(ti, gj, sep, cross[keep][order], radius[keep][order], g, t, rules)


def _pairs_within(target_coords, group_coords, reach, chunk=256):
    """
    (target index, group index, separation in arcsec) of every pair closer than ``reach``
    arcsec. Targets are taken in declination order, a block at a time, each block against the
    groups of its declination band only (a separation is never smaller than the difference
    in declination), so the work grows with the pairs near each other, not with
    targets x groups.
    """
    t_dec, g_dec = target_coords.dec.deg, group_coords.dec.deg
    t_order, g_order = np.argsort(t_dec, kind="stable"), np.argsort(g_dec, kind="stable")
    g_sorted = g_dec[g_order]
    band = reach / 3600.0
    found = [(np.zeros(0, int), np.zeros(0, int), np.zeros(0))]
    for start in range(0, len(t_order), chunk):
        block = t_order[start:start + chunk]
        lo = np.searchsorted(g_sorted, t_dec[block].min() - band, side="left")
        hi = np.searchsorted(g_sorted, t_dec[block].max() + band, side="right")
        if lo == hi:
            continue
        candidates = g_order[lo:hi]
        sep = target_coords[block][:, np.newaxis].separation(
            group_coords[candidates][np.newaxis, :]).arcsec
        i, j = np.nonzero(sep <= reach)
        found.append((block[i], candidates[j], sep[i, j]))
    return tuple(np.concatenate(parts) for parts in zip(*found))


def _criteria(ti, gj, sep, cross, radius, g, t, rules):
    """Each criterion of every pair, as boolean arrays."""
    lo, hi = rules.exptime_range
    t_mode, g_mode = t["mode"][ti], g["mode"][gj]
    same_filter = g["filter"][gj] == t["filter"][ti]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = g["t_exptime"][gj] / t["exposure_time"][ti]
        exptime_known = np.isfinite(ratio) & (ratio > 0)
        exptime_ok = exptime_known & (lo * (1 - _RATIO_RTOL) <= ratio) & (ratio <= hi * (1 + _RATIO_RTOL))
    template = (((t_mode == "BOTS") & (g_mode == "FS") & np.isin(g["aperture"][gj], (BOTS_APERTURE, "")))
                | ((t_mode == "FS") & (g_mode == "BOTS") & (t["aperture"][ti] == BOTS_APERTURE)))
    return _Pairs(
        target=ti, group=gj, separation=sep, radius=radius, cross=cross,
        position_ok=sep <= radius,
        mode_ok=(g_mode == t_mode) | cross,
        mode_unknown=~np.isin(g_mode, SPECTROSCOPIC_MODES),
        template=template,
        same_elements=(g["grating"][gj] == t["grating"][ti]) & same_filter,
        config_unknown=g["grating"][gj] == "",
        other_resolution=(same_filter & (g["band"][gj] >= 0) & (g["band"][gj] == t["band"][ti])
                          & (g["resolution"][gj] != t["resolution"][ti])),
        ratio=ratio, exptime_known=exptime_known, exptime_ok=exptime_ok)


def _judge(pairs, t, g, rules):
    """
    (severity, reasons) of every pair (severity: the index of its verdict in `VERDICTS`);
    each distinct combination of flags is judged and worded once.
    """
    ti, gj = pairs.target, pairs.group
    flags = {name: getattr(pairs, name) for name in _FLAGS if hasattr(pairs, name)}
    flags.update(planned=g["planned"][gj], has_note=g["note"][gj] != "",
                 slit_known=g["aperture"][gj] != "")
    codes = np.zeros(len(ti), dtype=np.int64)
    for bit, name in enumerate(_FLAGS):
        codes |= flags[name].astype(np.int64) << bit
    values = {
        "sep": pairs.separation, "ratio": pairs.ratio,
        "t_mode": t["mode"][ti], "g_mode": g["mode"][gj],
        "t_grating": t["grating"][ti], "t_filter": t["filter"][ti],
        "g_grating": g["grating"][gj], "g_filter": g["filter"][gj],
        "instrument": np.where(g["instrument_name"][gj] == "", "NIRSPEC", g["instrument_name"][gj]),
        # numbers of a group or a target are formatted once each, not once per pair
        "t_exptime": _formatted(g["t_exptime"], ".6g")[gj],
        "exposure_time": _formatted(t["exposure_time"], ".6g")[ti],
        "radius": _formatted(pairs.radius, "g"),
        "note": g["note"][gj],
    }
    severity = np.zeros(len(ti), dtype=int)
    reasons = np.empty(len(ti), dtype=object)
    uniques, inverse = np.unique(codes, return_inverse=True)
    for k, code in enumerate(uniques):
        members = np.flatnonzero(inverse == k)
        verdict, template = _wording(_Flags(*[bool(code >> bit & 1) for bit in range(len(_FLAGS))]),
                                     rules)
        fmt, names = _printf(template)
        severity[members] = _SEVERITY[verdict]
        if names:
            reasons[members] = [fmt % row for row in zip(*[values[n][members].tolist() for n in names])]
        else:
            reasons[members] = template
    return severity, reasons


def _formatted(values, spec):
    """``values`` formatted with ``spec``, each distinct value once: an object array."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return np.array([format(v, spec) for v in distinct.tolist()], dtype=object)[inverse]


def _printf(template):
    """
    A template with named fields as (``%``-style template, field names in order): one ``%``
    per pair is the cheapest way to word 100 000s of pairs. Fields take no spec (``%s``) or
    a ``f``/``g`` one, which ``%`` formats exactly as `format` does.
    """
    parts, names = [], []
    for literal, name, spec, conversion in Formatter().parse(template):
        parts.append(literal.replace("%", "%%"))   # parse() has unescaped the braces
        if name is not None:
            if conversion or (spec and spec[-1] not in "fg"):
                raise ValueError(f"field {{{name}}} of a reason: only '', 'f' or 'g' specs")
            parts.append(f"%{spec or 's'}")
            names.append(name)
    return "".join(parts), names


def _fmt(value):
    return f"{value:g}"


def _wording(flags, rules):
    """
    The verdict and reason template of one combination of flags: any hard failure, or two
    soft ones, rule a duplicate out; the pair's numbers and names are fields of the template.
    """
    soft, hard, details = [], [], []
    what, kind = ("MSA field centre", "MOS cross-check radius") if flags.cross else ("centre", "radius")
    if flags.position_ok:
        details.append(f'{what} {{sep:.2f}}" from the target, within the {{radius}}" {kind}')
    else:
        soft.append("centre just outside the radius")
        details.append(f'{what} {{sep:.2f}}" from the target, outside the {{radius}}" {kind} '
                       f'but within {_fmt(rules.near_factor)}x')
    _word_mode(flags, soft, hard, details)
    _word_configuration(flags, soft, hard, details)
    lo, hi = rules.exptime_range
    if not flags.exptime_known:
        soft.append("exposure time unknown")
        details.append("no usable archived exposure time")
    else:
        inside = "within" if flags.exptime_ok else "outside"
        details.append(f"exposure ratio {{ratio:.3g}} ({{t_exptime}} s archived / "
                       f"{{exposure_time}} s planned) {inside} [{_fmt(lo)}, {_fmt(hi)}]")
        if not flags.exptime_ok:
            soft.append("exposure ratio outside the factor")
    details.append("planned (not yet executed)" if flags.planned else "executed")
    if flags.has_note:
        details.append("not fully classified: {note}")
    if hard:
        verdict, summary = "NOT_DUPLICATE", ", ".join(hard)
        if soft:
            summary += "; also " + ", ".join(soft)
    elif not soft:
        verdict, summary = "DUPLICATE", "all criteria met"
    elif len(soft) == 1:
        verdict, summary = "POSSIBLE", f"one soft failure ({soft[0]})"
    else:
        verdict, summary = "NOT_DUPLICATE", f"{len(soft)} soft failures ({', '.join(soft)})"
    return verdict, f"{summary}: " + "; ".join(details)


def _word_mode(flags, soft, hard, details):
    """The mode criterion's failures and sentence, appended to the lists given."""
    if flags.mode_unknown:
        soft.append("mode unknown")
        details.append("mode not recorded (instrument_name {instrument})")
    elif flags.template:
        soft.append("same aperture and elements, different template" if flags.same_elements
                    else "different template")
        slit = "" if flags.slit_known else " (the observation's slit is not recorded)"
        details.append(f"different template through {BOTS_APERTURE}: {{g_mode}} observation, "
                       f"{{t_mode}} target{slit}")
    elif not flags.mode_ok:
        hard.append("different mode")
        details.append("different mode: {g_mode} observation, {t_mode} target")
    elif flags.cross:
        details.append("an MSA (MOS) observation counts against an {t_mode} target")
    else:
        details.append("same mode ({g_mode})")


def _word_configuration(flags, soft, hard, details):
    """The grating/filter criterion's failures and sentence, appended to the lists given."""
    if flags.config_unknown:
        soft.append("configuration unknown")
        details.append("configuration not recorded, planned {t_grating}/{t_filter}")
    elif flags.same_elements:
        details.append("same configuration {g_grating}/{g_filter}")
    elif flags.other_resolution:
        soft.append("same band at the other resolution")
        details.append("same band and filter at the other resolution: {g_grating}/{g_filter} "
                       "vs planned {t_grating}/{t_filter}")
    else:
        hard.append("different configuration")
        details.append("different configuration: {g_grating}/{g_filter} vs planned "
                       "{t_grating}/{t_filter}")


def _nothing_near(mode, t_radius, rules):
    """The reason of a target with no group within reach."""
    reason = (f"no NIRSpec science spectroscopy within {_fmt(rules.near_factor)} x the "
              f'{_fmt(t_radius)}" radius')
    if mode in MSA_CROSS_MODES:
        reason += (f' (or {_fmt(rules.near_factor)} x the '
                   f'{_fmt(rules.msa_cross_radius.to_value(u.arcsec))}" MOS cross-check '
                   "radius for MSA observations)")
    return reason


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
    ("reason", object, None, False),   # str objects: a fixed-width array would be ~5x larger
)

_FILL = {str: "", float: np.nan, int: 0, bool: False}
_GROUP_COLUMNS = ("observation", "obs_id", "proposal_id", "apt_url", "instrument_name", "mode",
                  "grating", "filter", "planned", "dataRights", "t_exptime", "s_ra", "s_dec",
                  "calib_level", "n_rows")


def _result_table(pairs, severity, reasons, t, g, rules):
    """The report: each target's pairs (most severe, then nearest, first), or its one row."""
    ti, gj = pairs.target, pairs.group
    observation_rank = np.unique(g["observation"], return_inverse=True)[1].reshape(-1)
    order = np.lexsort((gj, observation_rank[gj], pairs.separation, severity, ti))
    alone = np.setdiff1d(np.arange(len(t["name"])), ti)
    # rows: the pairs in order, then the targets alone; a stable sort by target interleaves them.
    # Each row indexes its target, its pair and its group; a target alone has the index one
    # past the end of the pairs and of the groups, where the arrays get their fill value.
    target_of_row = np.concatenate([ti[order], alone])
    final = np.argsort(target_of_row, kind="stable")
    target_of_row = target_of_row[final]
    pair_of_row = np.concatenate([order, np.full(len(alone), len(ti))])[final]
    group_of_row = np.concatenate([gj[order], np.full(len(alone), len(g["observation"]))])[final]
    lonely = pair_of_row == len(ti)
    columns = _pair_columns(pairs, severity, reasons, pair_of_row)
    columns.update((name, _extended(g[name])[group_of_row]) for name in _GROUP_COLUMNS)
    columns["radius"] = np.where(lonely, t["radius"][target_of_row], columns["radius"])
    for i in np.flatnonzero(lonely):
        columns["reason"][i] = _nothing_near(t["mode"][target_of_row[i]], columns["radius"][i], rules)
    masks = {name: lonely | ~np.isfinite(columns[name]) for name in ("calib_level", "n_rows")}
    table = Table(meta=rules.as_meta())
    for name, dtype, unit, maskable in _RESULT_COLUMNS:
        if name.startswith("target"):
            key = "name" if name == "target" else {"target_exptime": "exposure_time"}.get(
                name, name[len("target_"):])
            data = t[key][target_of_row]
        else:
            data = columns[name]
            if name in masks:
                data = np.where(masks[name], 0, data)
        if dtype is not object:
            data = np.asarray(data.tolist() if data.dtype == object else data, dtype=dtype)
        if dtype is str and len(data) == 0:
            data = data.astype("U1")
        column = (MaskedColumn(data, mask=masks.get(name, lonely), unit=unit, copy=False)
                  if maskable else Column(data, unit=unit, copy=False))
        table.add_column(column, name=name, copy=False)   # the reasons can be 100s of MB
    return table


def _extended(values, fill=None):
    """``values`` with one more element, ``fill`` (the dtype's `_FILL` if None), at the end."""
    values = np.asarray(values)
    if fill is None:
        fill = next((v for k, v in _FILL.items() if np.issubdtype(values.dtype, np.dtype(k))), None)
    return np.concatenate([values, np.array([fill], dtype=values.dtype)])


def _pair_columns(pairs, severity, reasons, pair_of_row):
    """The columns of the pairs, one element per row (a target alone gets the fill values)."""
    verdicts = np.array(VERDICTS)
    columns = dict(
        exptime_ratio=np.where(pairs.exptime_known, pairs.ratio, np.nan),
        separation=pairs.separation, radius=pairs.radius, position_ok=pairs.position_ok,
        mode_ok=pairs.mode_ok, config_ok=pairs.mode_ok & pairs.same_elements,
        exptime_ok=pairs.exptime_ok, verdict=verdicts[severity], reason=reasons)
    columns["verdict"] = _extended(columns["verdict"], "NOT_DUPLICATE")
    return {name: (values if name == "verdict" else _extended(values))[pair_of_row]
            for name, values in columns.items()}
