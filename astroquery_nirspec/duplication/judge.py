"""
The judge: planned targets against grouped observations, one verdict per near pair.

`evaluate` finds the groups near each target, measures each criterion of each pair, words the
reason and gives the verdict; `_result_table` lays the records out as the report. Pure, no I/O.
"""
from dataclasses import dataclass

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
class _Pair:
    """What was measured about one (target, group) pair."""

    separation: float          # arcsec
    radius: float              # arcsec, the radius that applies to this pair
    cross: bool                # an MSA observation of an FS/IFU target (the MOS cross-check)
    position_ok: bool
    mode_ok: bool
    mode_unknown: bool         # the archive does not record the mode
    template: bool             # BOTS against FS through S1600A1: same slit, another template
    same_elements: bool        # same grating and filter
    config_unknown: bool       # the archive does not record the grating
    other_resolution: bool     # same band and filter at the other resolution (M vs H)
    ratio: float               # archived / planned total exposure time
    exptime_known: bool
    exptime_ok: bool


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
    rules = DuplicationRules() if rules is None else rules
    if not isinstance(rules, DuplicationRules):
        raise InvalidQueryError(f"rules must be a DuplicationRules, got {type(rules).__name__}.")
    targets = read_targets(targets)
    g = _group_values(groups)
    # Groups without a usable position cannot be matched.
    group_index = np.flatnonzero(np.isfinite(g["s_ra"]) & np.isfinite(g["s_dec"]))
    if len(targets) and len(group_index):
        group_coords = SkyCoord(g["s_ra"][group_index] * u.deg, g["s_dec"][group_index] * u.deg,
                                frame="icrs")
        separations = _separations_arcsec(targets["coord"], group_coords)
    else:
        separations = np.empty((len(targets), 0))
    group_is_mos = np.array([g["mode"][j] == "MOS" for j in group_index], dtype=bool)
    records = []
    for i, target in enumerate(targets):
        records.extend(_judge_target(target, separations[i], group_index, group_is_mos, g, rules))
    return _result_table(records, rules)


def _group_values(groups):
    """The group columns used, as lists and float arrays (raw CAOM rows are grouped first)."""
    if not isinstance(groups, Table):
        raise InvalidQueryError(f"groups must be an astropy Table, got {type(groups).__name__}.")
    if "observation" not in groups.colnames and find_column(groups, "filters") is not None:
        groups = group_observations(groups)
    n = len(groups)
    for name in _GROUP_REQUIRED:
        if name not in groups.colnames:
            raise InvalidQueryError(
                f"groups lack the column '{name}'; pass the output of group_observations.")
    g = {name: str_values(find_column(groups, name), n)
         for name in ("observation", "obs_id", "proposal_id", "instrument_name", "dataRights",
                      "note")}
    g["aperture"] = [s.upper() for s in str_values(find_column(groups, "aperture"), n)]
    g.update({name: [s.upper() for s in str_values(groups[name], n)]
              for name in ("mode", "grating", "filter")})
    g.update({name: float_values(find_column(groups, name), n, unit)
              for name, unit in (("t_exptime", u.s), ("s_ra", u.deg), ("s_dec", u.deg),
                                 ("calib_level", None), ("n_rows", None))})
    planned = find_column(groups, "planned")
    g["planned"] = (np.asarray(np.ma.filled(planned, False), dtype=bool) if planned is not None
                    else g["calib_level"] == -1)
    return g


def _separations_arcsec(target_coords, group_coords, chunk=256):
    """Targets x groups separation matrix in arcsec (chunked over targets to bound memory)."""
    result = np.empty((len(target_coords), len(group_coords)))
    for start in range(0, len(target_coords), chunk):
        block = target_coords[start:start + chunk]
        result[start:start + chunk] = block[:, np.newaxis].separation(
            group_coords[np.newaxis, :]).arcsec
    return result


def _judge_target(target, separations, group_index, group_is_mos, g, rules):
    """The records of one target: one per near group, or one saying nothing is near."""
    t_radius = rules.radius_for(target["aperture"]).to_value(u.arcsec)
    # radius per group: the MOS cross-check radius for an MSA observation of an FS/IFU target
    crosses = group_is_mos & (target["mode"] in MSA_CROSS_MODES)
    radii = np.where(crosses, max(t_radius, rules.msa_cross_radius.to_value(u.arcsec)), t_radius)
    found = []
    for column in np.flatnonzero(separations <= rules.near_factor * radii):
        group = {key: values[group_index[column]] for key, values in g.items()}
        pair = _measure(target, group, separations[column], radii[column], bool(crosses[column]),
                        rules)
        found.append(_record(group, pair, *_verdict(*_describe_pair(target, group, pair, rules))))
    found.sort(key=lambda r: (_SEVERITY[r["verdict"]], r["separation"], r["observation"]))
    if not found:
        found.append(_nothing_near(target, t_radius, rules))
    for record in found:
        record.update(target=target["name"], target_aperture=target["aperture"],
                      target_mode=target["mode"], target_grating=target["grating"],
                      target_filter=target["filter"], target_exptime=target["exposure_time"])
    return found


def _other_template(target, group):
    """
    BOTS against FS through S1600A1, in either direction: the same slit and elements under
    another template. An FS observation whose slit CAOM does not record may be S1600A1.
    """
    if (target["mode"], group["mode"]) == ("BOTS", "FS"):
        return group["aperture"] in (BOTS_APERTURE, "")
    return (target["mode"], group["mode"]) == ("FS", "BOTS") and target["aperture"] == BOTS_APERTURE


def _measure(target, group, separation, radius, cross, rules):
    """Each criterion of one (target, group) pair."""
    lo, hi = rules.exptime_range
    band, resolution = GRATING_BAND.get(group["grating"]), GRATING_RESOLUTION.get(group["grating"])
    ratio = group["t_exptime"] / target["exposure_time"]
    exptime_known = bool(np.isfinite(ratio) and ratio > 0)
    return _Pair(
        separation=separation, radius=radius, cross=cross,
        position_ok=bool(separation <= radius),
        mode_ok=group["mode"] == target["mode"] or cross,
        mode_unknown=group["mode"] not in SPECTROSCOPIC_MODES,
        template=_other_template(target, group),
        config_unknown=not group["grating"],
        same_elements=group["grating"] == target["grating"] and group["filter"] == target["filter"],
        other_resolution=(group["filter"] == target["filter"] and band is not None
                          and band == GRATING_BAND.get(target["grating"])
                          and resolution != GRATING_RESOLUTION.get(target["grating"])),
        ratio=ratio, exptime_known=exptime_known,
        exptime_ok=exptime_known and lo * (1 - _RATIO_RTOL) <= ratio <= hi * (1 + _RATIO_RTOL))


def _fmt(value):
    return f"{value:g}"


def _describe_pair(target, group, pair, rules):
    """Human-readable parts of a reason: (soft failures, hard failures, detail sentences)."""
    soft, hard, details = [], [], []
    what = "MSA field centre" if pair.cross else "centre"
    kind = "MOS cross-check radius" if pair.cross else "radius"
    if pair.position_ok:
        details.append(f'{what} {pair.separation:.2f}" from the target, within the '
                       f'{_fmt(pair.radius)}" {kind}')
    else:
        soft.append("centre just outside the radius")
        details.append(f'{what} {pair.separation:.2f}" from the target, outside the '
                       f'{_fmt(pair.radius)}" {kind} but within {_fmt(rules.near_factor)}x')
    _describe_mode(target, group, pair, soft, hard, details)
    _describe_configuration(target, group, pair, soft, hard, details)
    lo, hi = rules.exptime_range
    if not pair.exptime_known:
        soft.append("exposure time unknown")
        details.append("no usable archived exposure time")
    else:
        inside = "within" if pair.exptime_ok else "outside"
        details.append(f"exposure ratio {pair.ratio:.3g} ({group['t_exptime']:.6g} s archived / "
                       f"{target['exposure_time']:.6g} s planned) {inside} [{_fmt(lo)}, {_fmt(hi)}]")
        if not pair.exptime_ok:
            soft.append("exposure ratio outside the factor")
    details.append("planned (not yet executed)" if group["planned"] else "executed")
    if group["note"]:
        details.append(f"not fully classified: {group['note']}")
    return soft, hard, details


def _describe_mode(target, group, pair, soft, hard, details):
    """The mode criterion's failures and sentence, appended to the lists given."""
    if pair.mode_unknown:
        soft.append("mode unknown")
        details.append(f"mode not recorded (instrument_name {group['instrument_name'] or 'NIRSPEC'})")
    elif pair.template:
        soft.append("same aperture and elements, different template" if pair.same_elements
                    else "different template")
        slit = "" if group["aperture"] else " (the observation's slit is not recorded)"
        details.append(f"different template through {BOTS_APERTURE}: {group['mode']} observation, "
                       f"{target['mode']} target{slit}")
    elif not pair.mode_ok:
        hard.append("different mode")
        details.append(f"different mode: {group['mode']} observation, {target['mode']} target")
    elif pair.cross:
        details.append(f"an MSA (MOS) observation counts against an {target['mode']} target")
    else:
        details.append(f"same mode ({group['mode']})")


def _describe_configuration(target, group, pair, soft, hard, details):
    """The grating/filter criterion's failures and sentence, appended to the lists given."""
    planned_config = f"{target['grating']}/{target['filter']}"
    archived_config = f"{group['grating']}/{group['filter']}"
    if pair.config_unknown:
        soft.append("configuration unknown")
        details.append(f"configuration not recorded, planned {planned_config}")
    elif pair.same_elements:
        details.append(f"same configuration {archived_config}")
    elif pair.other_resolution:
        soft.append("same band at the other resolution")
        details.append(f"same band and filter at the other resolution: {archived_config} "
                       f"vs planned {planned_config}")
    else:
        hard.append("different configuration")
        details.append(f"different configuration: {archived_config} vs planned {planned_config}")


def _verdict(soft, hard, details):
    """(verdict, reason) from the failures: any hard one, or two soft ones, rule it out."""
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


def _record(group, pair, verdict, reason):
    """One report row (without the target's columns) for a near pair."""
    program = parse_observation(group["observation"])
    return dict(
        observation=group["observation"], obs_id=group["obs_id"], proposal_id=group["proposal_id"],
        apt_url=apt_url(program[0]) if program else "",
        instrument_name=group["instrument_name"], mode=group["mode"],
        grating=group["grating"], filter=group["filter"],
        calib_level=int(group["calib_level"]) if np.isfinite(group["calib_level"]) else None,
        planned=bool(group["planned"]), dataRights=group["dataRights"],
        t_exptime=group["t_exptime"], exptime_ratio=pair.ratio if pair.exptime_known else np.nan,
        s_ra=group["s_ra"], s_dec=group["s_dec"], separation=pair.separation, radius=pair.radius,
        n_rows=int(group["n_rows"]) if np.isfinite(group["n_rows"]) else None,
        position_ok=pair.position_ok, mode_ok=bool(pair.mode_ok),
        config_ok=bool(pair.mode_ok and pair.same_elements), exptime_ok=bool(pair.exptime_ok),
        verdict=verdict, reason=reason)


def _nothing_near(target, t_radius, rules):
    """The one record of a target with no group within reach."""
    reason = (f"no NIRSpec science spectroscopy within {_fmt(rules.near_factor)} x the "
              f'{_fmt(t_radius)}" radius')
    if target["mode"] in MSA_CROSS_MODES:
        reason += (f' (or {_fmt(rules.near_factor)} x the '
                   f'{_fmt(rules.msa_cross_radius.to_value(u.arcsec))}" MOS cross-check '
                   "radius for MSA observations)")
    return dict(radius=t_radius, position_ok=False, mode_ok=False, config_ok=False,
                exptime_ok=False, verdict="NOT_DUPLICATE", reason=reason)


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
