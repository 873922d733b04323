"""
A synthetic ``Mast.Jwst.Filtered.Nirspec`` reply, shaped like the real ones.

Every field of the shipped catalogue (`astroquery_nirspec.fields.catalogue`), in service
order, with values of the shapes MAST sends: JSON numbers, JSON booleans and ``"t"``/``"f"``
strings, ``"/Date(ms)/"`` strings (declared ``string``, as MAST declares them) with their
``_mjd`` twins, nulls (a few columns entirely null, the others sparsely), short categorical
strings, unique identifiers, and ``s_region`` footprints: one POLYGON for IFU, a few for
fixed slits, and for MOS rows (30 %) one POLYGON per shutter, 2 000 to 24 000 characters.

Deterministic for a given seed; no network.
"""
import numpy as np

from astroquery_nirspec.fields import catalogue

__all__ = ["nirspec_reply", "reply_bytes"]

_MS_PER_DAY = 86_400_000
_MJD_UNIX_EPOCH = 40587.0
_UNIQUE = {"filename", "fileSetName", "dataURI", "checksum", "obs_id", "visit_id", "asnpool", "asntable",
           "osf_file", "msametfl", "obslabel", "targprop", "targname", "preimage"}
_ALL_NULL = {"lamp", "sub_shrt", "sub_long", "dirimage", "segmfile", "scatfile", "tcatfile", "errtype",
             "wtype", "masterbg", "dithpnts", "mtshadow", "rois", "roiw", "wpower", "pixfrac", "pxsclrt",
             "nwfsest", "pwfseet", "sctarate", "gs_v3_pa", "primecrs", "extncrs", "tmeasure", "bkgd_scl",
             "hybridff", "bkgmeth", "eph_time", "mu_epoch", "mu_epoch_mjd"}
_TITLES = ("MASQUERADE: Mapping a Super-luminous Quasar's Extended Radiative Emission",
           "NEXUS: the North ecliptic pole EXtragalactic Unified Survey",
           "The CANDELS-Area Prism Epoch of Reionization Survey",
           "Resolved kinematics of nearby galaxy nuclei",
           "Transmission spectroscopy of temperate sub-Neptunes")


def _polygon_pool(rng, size=4096):
    """STC-S POLYGONs of small shutters around GOODS-S, ~120 characters each."""
    ra = 53.16 + rng.uniform(-0.05, 0.05, size)
    dec = -27.79 + rng.uniform(-0.05, 0.05, size)
    w, h = 0.1 / 3600, 0.23 / 3600
    return [f"POLYGON ICRS  {a - w:.9f} {d - h:.9f} {a + w:.9f} {d - h:.9f} "
            f"{a + w:.9f} {d + h:.9f} {a - w:.9f} {d + h:.9f}" for a, d in zip(ra, dec)]


def _s_region(rng, n):
    pool = _polygon_pool(rng)
    kind = rng.choice(3, size=n, p=(0.35, 0.35, 0.30))          # IFU, FS, MOS
    mos = (16 + 184 * rng.random(n) ** 2).astype(int)         # most MOS rows short, a tail to ~24 000
    counts = np.where(kind == 0, 1, np.where(kind == 1, rng.integers(1, 5, n), mos))
    starts = rng.integers(0, len(pool), n)
    doubled = pool + pool
    return [" ".join(doubled[s:s + c]) for s, c in zip(starts.tolist(), counts.tolist())]


def _strings(rng, name, n):
    if name == "s_region":
        return _s_region(rng, n)
    if name == "title":
        return [_TITLES[i] for i in rng.integers(0, len(_TITLES), n)]
    if name == "checksum":
        return [bytes(row).hex() for row in rng.integers(0, 256, (n, 16), dtype=np.uint8)]
    if name in _UNIQUE:
        base = rng.integers(1000, 9999)
        suffix = {"filename": "_nrs1_cal.fits", "dataURI": "_nrs1_cal.fits"}.get(name, "")
        prefix = "mast:JWST/product/" if name == "dataURI" else ""
        return [f"{prefix}jw0{base}{i // 40:03d}001_03101_{i % 40:05d}{suffix}" for i in range(n)]
    size = int(rng.integers(2, 12))
    length = int(rng.integers(3, 24))
    pool = [f"{name.upper()}_{k}".ljust(length, "X")[:max(length, len(name) + 2)] for k in range(size)]
    return [pool[i] for i in rng.integers(0, size, n)]


def nirspec_reply(n=20_000, *, seed=0, page=1, pagesize=None):
    """
    A COMPLETE ``Mast.Jwst.Filtered.Nirspec`` reply with ``n`` rows, as a dict.

    Parameters
    ----------
    n : int
        Rows.
    seed : int
        Seed of the generator.
    page, pagesize : int
        Paging values written in the envelope.
    """
    rng = np.random.default_rng(seed)
    fields = list(catalogue().values())
    declared, columns = [], {}
    dates = {}
    for field in fields:
        name, kind = field.name, field.type
        # flags are text holding t/f, as MAST declares them; dates as text (astroquery reads them)
        declared.append({"name": name, "type": {"datetime": "string", "flag": "string"}.get(kind, kind)})
        if kind == "int":
            top = 10 ** int(rng.integers(1, 10))
            values = rng.integers(0, top, n).tolist()
        elif kind == "float":
            if name.endswith("_mjd") and name[:-4] in dates:
                values = (dates[name[:-4]] / _MS_PER_DAY + _MJD_UNIX_EPOCH).tolist()
            else:
                scale = 10.0 ** int(rng.integers(-3, 6))
                values = np.round(rng.normal(0, scale, n), int(rng.integers(2, 10))).tolist()
        elif kind == "flag":
            values = np.where(rng.random(n) < 0.1, "t", "f").tolist()
        elif kind == "boolean":
            values = (rng.random(n) < 0.1).tolist()
        elif kind == "datetime":
            ms = rng.integers(1_657_584_000_000, 1_785_542_400_000, n)
            dates[name] = ms
            values = [f"/Date({v})/" for v in ms.tolist()]
        else:
            values = _strings(rng, name, n)
        if name in _ALL_NULL:
            values = [None] * n
        elif name not in ("ArchiveFileID", "filename", "dataURI", "s_region"):
            null = np.flatnonzero(rng.random(n) < rng.choice((0.0, 0.01, 0.05)))
            for i in null.tolist():
                values[i] = None
        columns[name] = values
    names = list(columns)
    rows = [dict(zip(names, cells)) for cells in zip(*columns.values())]
    pagesize = n if pagesize is None else pagesize
    return {"status": "COMPLETE", "msg": "", "percent complete": 100,
            "paging": {"page": page, "pageSize": pagesize, "pagesFiltered": 1, "rows": n,
                       "rowsFiltered": n, "rowsTotal": n},
            "fields": declared, "data": rows}


def reply_bytes(n=20_000, *, seed=0):
    """The reply serialised as MAST sends it (compact JSON, UTF-8 bytes)."""
    import json

    try:
        import orjson
    except ImportError:                                   # pragma: no cover
        return json.dumps(nirspec_reply(n, seed=seed), separators=(",", ":")).encode()
    return orjson.dumps(nirspec_reply(n, seed=seed))
