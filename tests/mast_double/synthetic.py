"""
Synthetic rows of ``Mast.Jwst.Filtered.Nirspec`` and ``Mast.Caom.Filtered(.Position)``,
shaped as the recorded replies (tests/PROTOCOL.md); every value is made up.

Examples
--------
>>> rows = make_nirspec_rows(40, seed=2)
>>> sorted({r["tsovisit"] for r in rows}) <= ["f", "t"], type(rows[0]["ArchiveFileID"]).__name__
(True, 'int')
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .fields import CAOM_NAMES, EM_RANGE_NM, NIRSPEC_FIELDS, NIRSPEC_GRATING_FILTER_PAIRS

__all__ = ["make_nirspec_rows", "msa_uri", "caom_row", "make_caom_rows", "CAOM_NIRSPEC_MODES",
           "DEFAULT_NOW_MS"]


def _offset(ra0: float, dec0: float, xi_deg: float, eta_deg: float) -> tuple[float, float]:
    """Point at tangent-plane offset (xi east, eta north, degrees) from (ra0, dec0)."""
    xi, eta, d0 = math.radians(xi_deg), math.radians(eta_deg), math.radians(dec0)
    denom = math.cos(d0) - eta * math.sin(d0)
    ra = (ra0 + math.degrees(math.atan2(xi, denom))) % 360.0
    dec = math.degrees(math.atan2(eta * math.cos(d0) + math.sin(d0), math.hypot(xi, denom)))
    return ra, dec


def _polygon(ra, dec, half_w_as, half_h_as, pa_deg, dx_as=0.0, dy_as=0.0) -> str:
    """One STC-S ``POLYGON ICRS`` rectangle (sizes/offsets in arcsec, PA in degrees)."""
    c, s = math.cos(math.radians(pa_deg)), math.sin(math.radians(pa_deg))
    pts = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = sx * half_w_as + dx_as, sy * half_h_as + dy_as
        xr, yr = x * c - y * s, x * s + y * c
        pra, pdec = _offset(ra, dec, xr / 3600.0, yr / 3600.0)
        pts.append(f"{pra:.9f} {pdec:.9f}")
    return "POLYGON ICRS  " + " ".join(pts)


def _random_position(rng, center, spread_deg):
    if center is None:
        return float(rng.uniform(0.0, 360.0)), float(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0))))
    rho = spread_deg * math.sqrt(float(rng.random()))
    theta = 2.0 * math.pi * float(rng.random())
    return _offset(float(center[0]), float(center[1]), rho * math.sin(theta), rho * math.cos(theta))


_MS_PER_DAY = 86400000.0
_MJD_UNIX_EPOCH = 40587.0
#: "now" used to derive isRestricted (2026-08-15T00:00:00Z).
DEFAULT_NOW_MS = 1786752000000


def _ms_date(ms: int) -> str:
    return f"/Date({int(ms)})/"


def _mjd(ms: int) -> float:
    return ms / _MS_PER_DAY + _MJD_UNIX_EPOCH


_MODES = {  # name: (exp_type, template, science suffixes)
    "IFU": ("NRS_IFU", "NIRSpec IFU Spectroscopy", ("rate", "cal", "s3d", "x1d")),
    "MOS": ("NRS_MSASPEC", "NIRSpec MultiObject Spectroscopy", ("rate", "cal", "s2d", "x1d")),
    "FS": ("NRS_FIXEDSLIT", "NIRSpec Fixed Slit Spectroscopy", ("rate", "cal", "s2d", "x1d")),
    "BOTS": ("NRS_BRIGHTOBJ", "NIRSpec Bright Object Time Series", ("rateints", "calints", "x1dints")),
}
_MODE_NAMES = ("IFU", "MOS", "FS", "BOTS")
_MODE_P = (0.35, 0.30, 0.25, 0.10)
_PATTERNS = {"IFU": ("CYCLING", "4-POINT-DITHER", "NONE"), "MOS": ("3-SHUTTER-SLITLET", "NONE"),
             "FS": ("3-POINT-NOD", "2-POINT-NOD", "NONE"), "BOTS": ("NONE",)}
_FILE_TYPE_ID = {"rate": 80, "rateints": 81, "cal": 86, "calints": 87, "s2d": 88, "s3d": 89,
                 "x1d": 90, "x1dints": 91}
_CATEGORIES = ("GO", "GTO", "DD", "ERS", "CAL", "COM")
_CATEGORY_P = (0.80, 0.08, 0.05, 0.03, 0.02, 0.02)
_PI_NAMES = ("Eilers, Anna-Christina", "Shen, Yue", "Dickinson, Mark", "Brammer, Gabriel",
             "Willott, Chris J.", "Rieke, Marcia", "Ferruit, Pierre", "Kassin, Susan")
_TITLES = ("MASQUERADE: Mapping a Super-luminous Quasar's Extended Radiative Emission",
           "NEXUS: the North ecliptic pole EXtragalactic Unified Survey",
           "The CANDELS-Area Prism Epoch of Reionization Survey",
           "Resolved kinematics of nearby galaxy nuclei",
           "Transmission spectroscopy of temperate sub-Neptunes",
           "A NIRSpec census of high-redshift quasar hosts")
_FS_SLITS = ("S200A1", "S200A2", "S400A1", "S1600A1")
_FS_OFFSETS = {"S200A1": -10.0, "S200A2": 5.0, "S400A1": -2.0, "S1600A1": 0.0}   # arcsec along x
_TA_FILTERS = ("F110W", "F140X", "CLEAR")
_DATE_OBS_RANGE_MS = (1657584000000, 1785542400000)   # 2022-07-12 .. 2026-08-01
_FRAME_S = 14.5886


def _new_program(rng, program: int) -> dict:
    category = str(rng.choice(_CATEGORIES, p=_CATEGORY_P))
    return {"program": program, "category": category, "pi_name": str(rng.choice(_PI_NAMES)),
            "title": str(rng.choice(_TITLES)),
            "exclusive_days": 0 if category in ("DD", "ERS", "CAL", "COM") else 365,
            "targoopp": "t" if rng.random() < 0.05 else "f"}


def _target(rng, mode: str, targets: list, center, spread_deg: float, shared_fraction: float):
    """(ra, dec, targprop): an earlier target (a repeat) or a new one."""
    if targets and rng.random() < shared_fraction:
        return targets[int(rng.integers(0, len(targets)))]
    ra, dec = _random_position(rng, center, spread_deg)
    ra, dec = round(ra, 8), round(dec, 8)
    if mode == "MOS":
        name = f"catalog_J{int(ra / 15):02d}{int(ra * 4 % 60):02d}_v{int(rng.integers(1, 4))}"
    else:
        ra_min, dec_min = int(ra * 4 * 60) % (24 * 60), int(abs(dec) * 60)
        name = (f"{rng.choice(('QSO', 'SDSS', 'GAL', 'WASP'))}-J{ra_min // 60:02d}{ra_min % 60:02d}"
                f"{'+' if dec >= 0 else '-'}{dec_min // 60:02d}{dec_min % 60:02d}")
    targets.append((ra, dec, name))
    return targets[-1]


def _acquisition(rng, mode: str) -> str | None:
    """Target-acquisition exp_type of an observation, or None."""
    u = rng.random()
    if mode == "MOS":
        return "NRS_MSATA" if u < 0.7 else None
    if mode in ("FS", "BOTS"):
        return "NRS_WATA" if u < 0.6 else None
    return str(rng.choice(("NRS_MSATA", "NRS_WATA"))) if u < 0.5 else None


def _new_observation(rng, prog: dict, observtn: int, targets: list, center, spread_deg: float,
                     shared_fraction: float) -> dict:
    mode = str(rng.choice(_MODE_NAMES, p=_MODE_P))
    ra, dec, targprop = _target(rng, mode, targets, center, spread_deg, shared_fraction)
    filt, grating = NIRSPEC_GRATING_FILTER_PAIRS[int(rng.integers(0, 9))]
    fxd_slit = {"FS": _FS_SLITS[int(rng.integers(0, 4))], "BOTS": "S1600A1"}.get(mode)
    apername = {"IFU": "NRS_FULL_IFU", "MOS": "NRS_FULL_MSA"}.get(mode, f"NRS_{fxd_slit}_SLIT")
    date0 = int(rng.integers(*_DATE_OBS_RANGE_MS))
    # a MOS observation has one or two MSA configurations, each with its metadata file
    n_msa = int(rng.integers(1, 3)) if mode == "MOS" else 0
    visit = f"jw{prog['program']:05d}{observtn:03d}001"
    return {
        **prog, "observtn": observtn, "mode": mode, "targ_ra": ra, "targ_dec": dec,
        "targprop": targprop, "targname": targprop if rng.random() < 0.3 else None,
        "filter": filt, "grating": grating, "fxd_slit": fxd_slit, "apername": apername,
        "pa": float(rng.uniform(0, 360)), "n_exp": int(rng.integers(1, 5)), "date0": date0,
        "release0": date0 + prog["exclusive_days"] * 86400000 + int(rng.integers(0, 86400000)),
        "patttype": str(rng.choice(_PATTERNS[mode])),
        "readpatt": "NRSRAPID" if mode == "BOTS" else str(rng.choice(("NRSIRS2", "NRSIRS2RAPID", "NRS"))),
        "subarray": str(rng.choice(("SUB2048", "SUB1024A"))) if mode == "BOTS" else "FULL",
        "msa_files": tuple(f"{visit}_{k:02d}_msa.fits" for k in range(1, n_msa + 1)),
        "ta": _acquisition(rng, mode),
        "crowdfld": "t" if rng.random() < {"IFU": 0.45, "FS": 0.03}.get(mode, 0.0) else "f",
        "bkgdtarg": "t" if mode == "IFU" and rng.random() < 0.03 else "f",
    }


def _science_region(rng, obs: dict, dx: float, dy: float) -> str:
    """STC-S footprint of a science exposure (MOS: a few shutters within +-60")."""
    ra, dec, pa, mode = obs["targ_ra"], obs["targ_dec"], obs["pa"], obs["mode"]
    if mode == "IFU":
        return _polygon(ra, dec, 1.5, 1.5, pa, dx, dy)
    if mode == "BOTS":
        return _polygon(ra, dec, 0.8, 0.8, pa, dx, dy)
    if mode == "FS":
        slit = obs["fxd_slit"]
        open_slits = [slit] + [s for s in _FS_SLITS[: int(rng.integers(0, 4))] if s != slit]
        return " ".join(_polygon(ra, dec, 0.1 if s != "S1600A1" else 0.8, 1.6 if s != "S1600A1" else 0.8,
                                 pa, dx + _FS_OFFSETS[s] - _FS_OFFSETS[slit], dy) for s in open_slits)
    return " ".join(_polygon(ra, dec, 0.1, 0.23, pa, float(rng.uniform(-60, 60)), float(rng.uniform(-60, 60)))
                    for _ in range(int(rng.integers(3, 9))))


def _exposure(rng, obs: dict, visitgrp: str, expnum: int, is_ta: bool) -> dict:
    """The values shared by every file of one exposure."""
    mode = obs["mode"]
    ngroups = 3 if is_ta else int(rng.integers(3, 60))
    nints = 1 if is_ta else (int(rng.integers(50, 2000)) if mode == "BOTS" else int(rng.integers(1, 4)))
    effexptm = round(ngroups * nints * _FRAME_S, 3)
    duration = round(effexptm + _FRAME_S * (1 + nints * 0.01), 3)
    date_ms = obs["date0"] + int(rng.integers(0, 6 * 3600 * 1000)) + expnum * int(duration * 1000)
    ingest_ms = date_ms + int(rng.integers(3600 * 1000, 3 * 86400000))
    done_ms = ingest_ms + int(rng.integers(60_000, 3_600_000))
    dx, dy = float(rng.normal(0, 0.3)), float(rng.normal(0, 0.3))
    act = "01" if is_ta else f"{1 + (expnum - 1) % 3:02d}"
    msa = obs["msa_files"]
    exp = {"visitgrp": visitgrp, "exposure": expnum, "act_id": act, "ngroups": ngroups, "nints": nints,
           "effexptm": effexptm, "duration": duration, "date_ms": date_ms, "ingest_ms": ingest_ms,
           "done_ms": done_ms, "release_ms": max(obs["release0"], done_ms) if obs["exclusive_days"] else done_ms,
           "msametfl": msa[(expnum - 1) % len(msa)] if msa else None,
           "fileSetName": f"jw{obs['program']:05d}{obs['observtn']:03d}001_{visitgrp}1{act}_{expnum:05d}",
           "obs_id": f"V{obs['program']:05d}{obs['observtn']:03d}001P00000000{visitgrp}1{act}"}
    if is_ta:
        exp.update(exp_type=obs["ta"], apername="NRS_FULL_MSA" if obs["ta"] == "NRS_MSATA" else "NRS_S1600A1_SLIT",
                   grating="MIRROR", filter=_TA_FILTERS[int(rng.integers(0, 3))], fxd_slit=None,
                   suffixes=("rate", "cal"), detectors=("NRS1",), readpatt="NRSRAPID",
                   subarray="SUB32" if obs["ta"] == "NRS_WATA" else "FULL",
                   s_region=_polygon(obs["targ_ra"], obs["targ_dec"], 0.8, 0.8, obs["pa"], dx, dy))
    else:
        exp.update(exp_type=_MODES[mode][0], apername=obs["apername"], grating=obs["grating"],
                   filter=obs["filter"], fxd_slit=obs["fxd_slit"], suffixes=_MODES[mode][2],
                   detectors=("NRS1", "NRS2"), readpatt=obs["readpatt"], subarray=obs["subarray"],
                   s_region=_science_region(rng, obs, dx, dy))
    return exp


def _exposures(rng, obs: dict) -> list[dict]:
    ta = [_exposure(rng, obs, "02", 1, True)] if obs["ta"] else []
    science = [_exposure(rng, obs, "03", k, False) for k in range(1, obs["n_exp"] + 1)]
    return ta + science


def _file_row(obs: dict, exp: dict, n_exposures: int, det: str, suffix: str, ids: dict, now_ms: int) -> dict:
    """One ``Mast.Jwst.Filtered.Nirspec`` row, keys in `NIRSPEC_FIELDS` order."""
    mode, program, observtn = obs["mode"], obs["program"], obs["observtn"]
    fname = f"{exp['fileSetName']}_{det.lower()}_{suffix}.fits"
    expstart = _mjd(exp["date_ms"])
    return {
        "ArchiveFileID": ids["archive"], "filename": fname, "fileSetName": exp["fileSetName"],
        "productLevel": "2a" if suffix.startswith("rate") else "2b", "act_id": exp["act_id"],
        "apername": exp["apername"], "bkgdtarg": obs["bkgdtarg"], "category": obs["category"], "dataprob": "f",
        "date_obs": _ms_date(exp["date_ms"]), "date_obs_mjd": expstart, "detector": det,
        "duration": exp["duration"], "effexptm": exp["effexptm"], "exp_type": exp["exp_type"],
        "expend": expstart + exp["duration"] / 86400.0, "exposure": exp["exposure"], "expstart": expstart,
        "filter": exp["filter"], "hga_move": "f", "instrume": "NIRSPEC", "intarget": "f",
        "nexposur": n_exposures, "ngroups": exp["ngroups"], "nints": exp["nints"], "numdthpt": obs["n_exp"],
        "obs_id": exp["obs_id"], "observtn": observtn, "pi_name": obs["pi_name"], "program": program,
        "readpatt": exp["readpatt"], "seq_id": "1", "subarray": exp["subarray"], "targ_dec": obs["targ_dec"],
        "targ_ra": obs["targ_ra"], "targname": obs["targname"], "targoopp": obs["targoopp"],
        "targprop": obs["targprop"], "targtype": "FIXED", "template": _MODES[mode][1], "title": obs["title"],
        "tsovisit": "t" if mode == "BOTS" else "f", "visit": 1, "visit_id": f"{program:05d}{observtn:03d}001",
        "visitgrp": exp["visitgrp"], "zerofram": "f", "exp_only": "f", "patt_num": exp["exposure"],
        "patttype": obs["patttype"], "crowdfld": obs["crowdfld"], "compress": "f", "s_region": exp["s_region"],
        "fxd_slit": exp["fxd_slit"], "grating": exp["grating"],
        "is_imprt": "f" if mode in ("IFU", "MOS") else None, "msametfl": exp["msametfl"],
        "hybridff": "f" if mode == "MOS" else None, "fileSize": ids["size"], "checksum": ids["checksum"],
        "ingestStartDate": _ms_date(exp["ingest_ms"]), "ingestStartDate_mjd": _mjd(exp["ingest_ms"]),
        "ingestCompletionDate": _ms_date(exp["done_ms"]), "ingestCompletionDate_mjd": _mjd(exp["done_ms"]),
        "FileTypeID": _FILE_TYPE_ID[suffix], "publicReleaseDate": _ms_date(exp["release_ms"]),
        "publicReleaseDate_mjd": _mjd(exp["release_ms"]), "isRestricted": bool(exp["release_ms"] > now_ms),
        "isItar": False, "isStale": False, "FileSetId": ids["file_set"], "dataURI": f"mast:JWST/product/{fname}",
    }


def msa_uri(msametfl: str) -> str:
    """The download ``dataURI`` of the MSA metadata file that ``msametfl`` names.

    Examples
    --------
    >>> msa_uri("jw01345063001_01_msa.fits")
    'mast:JWST/product/jw01345063001_01_msa.fits'
    """
    return "mast:JWST/product/" + msametfl


_NULLABLE = ("effexptm", "pi_name", "targprop", "title", "patttype")


def make_nirspec_rows(n: int, *, seed: int = 0, fields=None, center=None, spread_deg: float = 0.5,
                      null_fraction: float = 0.01, shared_target_fraction: float = 0.15,
                      now_ms: int = DEFAULT_NOW_MS) -> list[dict]:
    """Generate ``n`` realistic, synthetic ``Mast.Jwst.Filtered.Nirspec`` rows.

    Rows are grouped like the archive: programs -> observations (one mode: IFU, MOS,
    FS or BOTS, one target, one filter/grating pair, optional target acquisition)
    -> exposures -> one row per (detector, product file). Values are JSON-ready
    Python objects (``None`` = null) shaped as in the recorded replies (see
    `NIRSPEC_FIELDS`). Nulls: ``fxd_slit`` outside FS/BOTS, ``msametfl`` outside MOS,
    ``is_imprt`` outside IFU/MOS, ``hybridff`` outside MOS, ``targname`` mostly, and
    each of ``effexptm``, ``pi_name``, ``targprop``, ``title``, ``patttype`` with
    probability ``null_fraction``. A fraction ``shared_target_fraction`` of
    observations reuse an earlier target (repeats for duplicate-checking tests).

    Parameters
    ----------
    n : int
        Number of rows.
    seed : int
        Seed for `numpy.random.default_rng`; same seed -> same rows.
    fields : list of str or of {"name", "type"}, optional
        Output columns, in order (default: all `NIRSPEC_FIELDS`). Unknown names are
        filled with ``None``.
    center : (ra, dec) in degrees, optional
        Targets are spread uniformly within ``spread_deg`` of this point
        (default: uniformly over the sky).
    null_fraction, shared_target_fraction : float
        See above.
    now_ms : int
        Reference epoch (ms) for ``isRestricted = publicReleaseDate > now``.

    Examples
    --------
    >>> rows = make_nirspec_rows(3, seed=1)
    >>> len(rows), rows[0]["instrume"], rows[0]["date_obs"].startswith("/Date(")
    (3, 'NIRSPEC', True)
    """
    rng = np.random.default_rng(seed)
    names = [f["name"] if isinstance(f, dict) else str(f) for f in (fields or NIRSPEC_FIELDS)]
    same_order = names == [f["name"] for f in NIRSPEC_FIELDS]
    program_ids = iter(rng.permutation(np.arange(1000, 10000)).tolist())
    ids = {"archive": 240_000_000 + int(rng.integers(0, 1_000_000)),
           "file_set": 6_000_000 + int(rng.integers(0, 100_000))}
    checksums = rng.bytes(16 * 4096).hex()
    # per-row random numbers drawn in bulk (speed): nulls, file size, id increment
    nulls = (rng.random((max(n, 1), len(_NULLABLE))) < null_fraction).tolist()
    size_f = (1.5 + rng.random(max(n, 1))).tolist()
    increments = rng.integers(1, 50, max(n, 1)).tolist()
    rows: list[dict] = []
    targets: list = []
    while len(rows) < n:
        prog = _new_program(rng, next(program_ids))
        for observtn in range(1, int(rng.integers(1, 5)) + 1):
            obs = _new_observation(rng, prog, observtn, targets, center, spread_deg, shared_target_fraction)
            exposures = _exposures(rng, obs)
            for exp in exposures:
                ids["file_set"] += 1
                for det, suffix in itertools.product(exp["detectors"], exp["suffixes"]):
                    j = len(rows)
                    if j >= n:
                        return rows
                    ids["archive"] += increments[j]
                    ids["size"] = int(2048 * 2048 * 4 * size_f[j] * (1 if det == "NRS1" else 0.98))
                    ids["checksum"] = checksums[(j % 4096) * 32:(j % 4096) * 32 + 32]
                    row = _file_row(obs, exp, len(exposures), det, suffix, ids, now_ms)
                    for name, null in zip(_NULLABLE, nulls[j]):
                        if null:
                            row[name] = None
                    rows.append(row if same_order else {c: row.get(c) for c in names})
    return rows


_OBSID_COUNTER = itertools.count(90_000_000_001)

#: CAOM ``instrument_name`` and ``dataproduct_type`` of executed NIRSpec observations, by
#: mode. BOTS appears both as ``NIRSPEC/BOTS`` and as ``NIRSPEC/SLIT`` time series.
CAOM_NIRSPEC_MODES = {"MSA": ("NIRSPEC/MSA", "spectrum"), "IFU": ("NIRSPEC/IFU", "cube"),
                      "SLIT": ("NIRSPEC/SLIT", "spectrum"), "BOTS": ("NIRSPEC/BOTS", "timeseries"),
                      "SLIT-BOTS": ("NIRSPEC/SLIT", "timeseries")}
_CAOM_MODE_P = (0.3, 0.3, 0.2, 0.13, 0.07)


def _caom_obs_id(proposal, filters, planned: bool, instrument: str, product: str) -> str:
    """A CAOM ``obs_id``: planned ``jwPPPPPOOOVVV_xx...`` or level-3 ``jwPPPPP-o001_...``;
    time series carry the S1600A1 aperture and subarray, as JWST level-3 names do."""
    if planned and str(proposal).isdigit():
        return f"jw{int(proposal):05d}001001_xx101_00001_nirspec"
    parts = [p.strip().lower() for p in str(filters or "").split(";")][:2]
    tag = "-".join(reversed(parts))
    if instrument.endswith("BOTS") or product == "timeseries":
        tag += "-s1600a1-sub2048"
    return f"jw{str(proposal).zfill(5)}-o001_t001_nirspec_{tag}"


def caom_row(**overrides) -> dict:
    """One CAOM ``Mast.Caom.Filtered(.Position)`` row with every `CAOM_FIELDS` key.

    Defaults describe an executed JWST NIRSpec IFU L3 science observation at
    (10, -20) with ``filters="F290LP;G395H"``. With ``calib_level=-1`` the defaults
    become a *planned* row (provenance APT, no t_min/t_max/t_obs_release/dataRights,
    planned-style obs_id). Unless overridden, ``em_min``/``em_max`` follow
    ``filters``, ``obs_id`` follows the proposal, filters and mode (time series:
    ``..._f290lp-g395h-s1600a1-sub2048``), ``s_region`` is a 3"x3" square around
    (s_ra, s_dec), and ``obsid``/``objID`` come from a module-wide counter. Unknown
    keys raise ``KeyError``.

    Examples
    --------
    >>> row = caom_row(instrument_name="NIRSPEC/BOTS", dataproduct_type="timeseries")
    >>> row["obs_id"]
    'jw01234-o001_t001_nirspec_g395h-f290lp-s1600a1-sub2048'
    """
    bad = [k for k in overrides if k not in CAOM_NAMES]
    if bad:
        raise KeyError(f"unknown CAOM column(s): {bad}")
    planned = overrides.get("calib_level", 3) == -1
    filters = overrides.get("filters", "F290LP;G395H")
    em = EM_RANGE_NM.get(tuple(p.strip().upper() for p in str(filters or "").split(";")[:2]), (None, None))
    s_ra, s_dec = overrides.get("s_ra", 10.0), overrides.get("s_dec", -20.0)
    obsid = next(_OBSID_COUNTER)
    proposal = overrides.get("proposal_id", "1234")
    instrument = overrides.get("instrument_name", "NIRSPEC" if planned else "NIRSPEC/IFU")
    product = overrides.get("dataproduct_type", "spectrum" if planned else "cube")
    row = {
        "dataproduct_type": product, "calib_level": 3, "obs_collection": "JWST",
        "obs_id": _caom_obs_id(proposal, filters, planned, instrument, product),
        "target_name": "TARGET-1", "s_ra": s_ra, "s_dec": s_dec,
        "t_min": None if planned else 60500.1, "t_max": None if planned else 60500.2,
        "t_exptime": 1000.0, "wavelength_region": "INFRARED", "filters": filters,
        "em_min": em[0], "em_max": em[1], "target_classification": None,
        "obs_title": "A synthetic NIRSpec program", "t_obs_release": None if planned else 60865.5,
        "instrument_name": instrument, "proposal_pi": "Doe, Jane", "proposal_id": proposal,
        "proposal_type": "GO", "project": "JWST", "sequence_number": -999,
        "provenance_name": "APT" if planned else "CALJWST",
        "s_region": (_polygon(float(s_ra), float(s_dec), 1.5, 1.5, 0.0)
                     if s_ra is not None and s_dec is not None else None),
        "jpegURL": None, "dataURL": None, "dataRights": None if planned else "PUBLIC",
        "mtFlag": False, "srcDen": None, "intentType": "science",
        "obsid": obsid, "objID": obsid + 7, "objID1": obsid + 7,
    }
    row.update(overrides)
    return row


def _caom_sibling(rng, row: dict, obj_id: int) -> dict:
    """Another row of the same observation (same ``obsid`` and ``obs_id``) that differs
    in other columns, as the FUV/NUV pairs of the recorded Filtered.Position reply:
    other filters and wavelengths, exposure time and ``objID``."""
    filt, grating = NIRSPEC_GRATING_FILTER_PAIRS[int(rng.integers(0, 9))]
    em = EM_RANGE_NM[(filt, grating)]
    return {**row, "filters": f"{filt};{grating}", "em_min": em[0], "em_max": em[1],
            "t_exptime": round(float(rng.uniform(200, 5000)), 3), "objID": obj_id, "objID1": obj_id}


def make_caom_rows(n: int, *, seed: int = 0, center=None, spread_deg: float = 0.2,
                   planned_fraction: float = 0.3, shared_obsid_fraction: float = 0.1) -> list[dict]:
    """``n`` synthetic CAOM rows of JWST NIRSpec observations.

    Executed rows (calib 2/3, CALJWST) carry a mode in ``instrument_name``
    (`CAOM_NIRSPEC_MODES`: MSA, IFU, SLIT, BOTS, and BOTS as a SLIT time series);
    planned rows (calib -1, APT) the bare ``NIRSPEC``. A fraction
    ``shared_obsid_fraction`` of the rows repeat the ``obsid`` of an earlier executed
    row with other filters (see `_caom_sibling`).

    Examples
    --------
    >>> rows = make_caom_rows(50, seed=1)
    >>> len(rows), len({r["obsid"] for r in rows}) < 50
    (50, True)
    """
    rng = np.random.default_rng(seed)
    rows, executed = [], []
    for i in range(n):
        if executed and rng.random() < shared_obsid_fraction:
            rows.append(_caom_sibling(rng, rows[executed[int(rng.integers(0, len(executed)))]], 200_000_000 + i))
            continue
        planned = bool(rng.random() < planned_fraction)
        ra, dec = _random_position(rng, center, spread_deg)
        filt, grating = NIRSPEC_GRATING_FILTER_PAIRS[int(rng.integers(0, 9))]
        mode = str(rng.choice(tuple(CAOM_NIRSPEC_MODES), p=_CAOM_MODE_P))
        instrument, product = CAOM_NIRSPEC_MODES[mode]
        if not planned:
            executed.append(i)
        rows.append(caom_row(
            calib_level=-1 if planned else int(rng.choice((2, 3))), s_ra=round(ra, 8), s_dec=round(dec, 8),
            filters=f"{filt};{grating}", proposal_id=str(int(rng.integers(1000, 9999))),
            # planned rows: bare NIRSPEC, "spectrum" (the recorded 2020 planned rows)
            instrument_name="NIRSPEC" if planned else instrument,
            dataproduct_type="spectrum" if planned else product,
            t_exptime=round(float(rng.uniform(200, 5000)), 3),
            target_name=f"TARGET-{i}", obsid=100_000_000 + i, objID=200_000_000 + i,
            objID1=200_000_000 + i,
            intentType="science" if rng.random() < 0.9 else "calibration"))
    return rows
