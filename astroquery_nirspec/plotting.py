"""
Sky plots of a duplication report (`plot_duplicates`).

Matplotlib is optional: ``pip install "astroquery_nirspec[plot]"``. It is imported
only when a plot is made, so the rest of the package works without it.

Each sky field is drawn on a `~astropy.visualization.wcsaxes.WCSAxes` whose WCS is a
gnomonic (TAN) projection around the field centre, so right ascension and declination
are correct on the sky at any position, across RA 0 and near the poles. Circles are
`~astropy.visualization.wcsaxes.SphericalCircle` patches and footprints are drawn in
ICRS degrees through ``ax.get_transform("icrs")``: no angle arithmetic is done here.
"""
# Standard library
import math
from collections.abc import Mapping
from pathlib import Path

# Third party
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.wcs import WCS

# Local
from .duplication import DUPLICATION_RADII, VERDICTS
from .duplication.search import MAX_FIELD_RADIUS, cluster_targets

__all__ = ["plot_duplicates", "parse_s_region", "VERDICT_COLORS"]

#: Colour of each verdict.
VERDICT_COLORS = {"DUPLICATE": "tab:red", "POSSIBLE": "tab:orange", "NOT_DUPLICATE": "0.55"}

#: Colour of the targets and their duplication circles.
TARGET_COLOR = "tab:blue"

#: Fields with at most this many targets get the target names written next to them.
_MAX_NAMED_TARGETS = 12

_INSTALL_HINT = ('plot_duplicates needs matplotlib: pip install "astroquery_nirspec[plot]" '
                 '(or pip install matplotlib).')
_SHAPES = {"POLYGON", "CIRCLE", "BOX", "POSITION", "ELLIPSE"}
_SEVERITY = {verdict: rank for rank, verdict in enumerate(VERDICTS)}


def _import_matplotlib():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return Figure


def parse_s_region(s_region):
    """
    The shapes of an STC-S ``s_region`` string, in ICRS degrees.

    The string is split on white space: each ``POLYGON`` or ``CIRCLE`` keyword starts a
    shape, frame words (``ICRS``, ``FK5``, ``J2000``, ...) are skipped and the numbers
    that follow are its coordinates. Several shapes in one string (MOS footprints of
    several MSA quadrants or dithers; ``UNION`` of shapes) each become one entry. Other
    shapes (``BOX``, ``ELLIPSE``, ``POSITION``) are ignored.

    Parameters
    ----------
    s_region : str or None
        E.g. ``"POLYGON ICRS 53.1 -27.8 53.2 -27.8 53.2 -27.7"``; masked or None gives no
        shapes.

    Returns
    -------
    shapes : list of tuple
        ``("polygon", vertices)`` with an (N, 2) array of (ra, dec), N >= 3, or
        ``("circle", (ra, dec, radius))``, all in degrees.

    Examples
    --------
    >>> shapes = parse_s_region("POLYGON ICRS 10 20 10.1 20 10.1 20.1 "
    ...                         "POLYGON ICRS 11 20 11.1 20 11.1 20.1 CIRCLE ICRS 12 20 0.01")
    >>> [kind for kind, _ in shapes], shapes[0][1].shape
    (['polygon', 'polygon', 'circle'], (3, 2))
    >>> parse_s_region(None)
    []
    """
    if s_region is None or s_region is np.ma.masked:
        return []
    shapes = []
    kind, numbers = None, []

    def close():
        if kind == "POLYGON" and len(numbers) >= 6:
            pairs = len(numbers) // 2
            shapes.append(("polygon", np.array(numbers[:2 * pairs], dtype=float).reshape(pairs, 2)))
        elif kind == "CIRCLE" and len(numbers) >= 3:
            shapes.append(("circle", tuple(float(v) for v in numbers[:3])))

    for token in str(s_region).replace("(", " ").replace(")", " ").split():
        word = token.upper()
        if word in _SHAPES:
            close()
            kind, numbers = word, []
            continue
        try:
            value = float(token)
        except ValueError:
            continue                     # a frame or reference-position word, or UNION
        if math.isfinite(value):
            numbers.append(value)
    close()
    return shapes


# ---------------------------------------------------------------------------------------------
# Reading the report
# ---------------------------------------------------------------------------------------------

def _find(table, name):
    for colname in table.colnames:
        if colname.lower() == name.lower():
            return table[colname]
    return None


def _position_source(report, targets):
    """The table holding the targets' positions, and how to name it in a message."""
    if targets is not None:                       # an explicit target list wins
        if isinstance(targets, (str, Path)):
            return Table.read(targets), "targets="
        return (targets if isinstance(targets, Table) else Table(rows=list(targets))), "targets="
    if "target_ra" in report.colnames and "target_dec" in report.colnames:
        return (Table({"name": report["target"], "ra": report["target_ra"],
                       "dec": report["target_dec"]}),
                "the report's target_ra/target_dec columns")
    raise ValueError("The report holds no target positions (the target_ra and target_dec columns "
                     "of check_duplicates): pass targets= (the target list, with name and ra, "
                     "dec columns).")


def _target_positions(report, targets):
    """``{name: SkyCoord}`` of the report's targets, from ``targets`` or the report's columns."""
    names = list(dict.fromkeys(str(n) for n in report["target"]))
    source, where = _position_source(report, targets)
    name_col = _find(source, "name")
    coord_col = _find(source, "coord")
    if name_col is None or (coord_col is None and (_find(source, "ra") is None
                                                   or _find(source, "dec") is None)):
        raise ValueError(f"Target positions from {where} need the columns name and ra, dec "
                         f"(degrees) or coord; got {', '.join(source.colnames)}.")
    if isinstance(coord_col, SkyCoord):
        coords = coord_col.icrs
    else:
        ra, dec = _find(source, "ra"), _find(source, "dec")
        ra = ra if isinstance(ra, u.Quantity) or getattr(ra, "unit", None) is None else ra.quantity
        dec = dec if isinstance(dec, u.Quantity) or getattr(dec, "unit", None) is None else dec.quantity
        coords = SkyCoord(ra, dec, unit=u.deg, frame="icrs")
    positions = {}
    for name, coord in zip(name_col, coords):
        positions.setdefault(str(name).strip(), coord)
    missing = [n for n in names if n not in positions]
    if missing:
        raise ValueError(f"No position for target{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(m) for m in missing[:5])}{' ...' if len(missing) > 5 else ''} "
                         f"in {where}.")
    return {n: positions[n] for n in names}


def _target_radius(report, name_rows):
    """Duplication radius (arcsec) of a target: its aperture's, from the rules in meta."""
    radii = report.meta.get("radii_arcsec") or {}
    aperture = None
    if "target_aperture" in report.colnames:
        aperture = str(report["target_aperture"][name_rows[0]]).strip().upper()
    if aperture in radii:
        return float(radii[aperture])
    if aperture in DUPLICATION_RADII:
        return float(DUPLICATION_RADII[aperture].to_value(u.arcsec))
    return float(np.nanmin(np.asarray(report["radius"], dtype=float)[name_rows]))


def _field_labels(report, names, coords, fields):
    """Field label of each target name (in ``names`` order) and the labels in display order."""
    if fields is None and "field" in report.colnames:
        first = {}
        for name, label in zip(report["target"], report["field"]):
            first.setdefault(str(name), label.item() if hasattr(label, "item") else label)
        fields = first
    if fields is None and isinstance(report.meta.get("fields"), Mapping):
        fields = report.meta["fields"]
    if fields is None:
        labels, _, _ = cluster_targets(coords, max_radius=MAX_FIELD_RADIUS)
        labels = [int(v) + 1 for v in labels]
    elif isinstance(fields, Mapping):
        missing = [n for n in names if n not in fields]
        if missing:
            raise ValueError(f"fields= gives no field for {', '.join(repr(m) for m in missing[:5])}.")
        labels = [fields[n] for n in names]
    else:
        labels = list(fields)
        if len(labels) != len(names):
            raise ValueError(f"fields= has {len(labels)} labels for {len(names)} targets: give one "
                             "per target (in the report's target order) or a {name: label} dict.")
    order = list(dict.fromkeys(labels))
    return labels, order


def _footprints(report, rows):
    """One entry per observation (obs_id) among ``rows``, with its most severe verdict."""
    found = {}
    observation = report["observation"] if "observation" in report.colnames else None
    for i in rows:
        if observation is None or np.ma.is_masked(observation[i]):
            continue                                     # a target with no candidate
        key = None
        if "obs_id" in report.colnames and not np.ma.is_masked(report["obs_id"][i]):
            key = str(report["obs_id"][i])
        key = key or str(observation[i])
        verdict = str(report["verdict"][i])
        entry = found.get(key)
        if entry is None:
            region = report["s_region"][i] if "s_region" in report.colnames else None
            found[key] = entry = dict(
                observation=str(observation[i]), verdict=verdict,
                proposal_id=str(report["proposal_id"][i]) if "proposal_id" in report.colnames
                and not np.ma.is_masked(report["proposal_id"][i]) else "",
                planned=bool(report["planned"][i]) if "planned" in report.colnames
                and not np.ma.is_masked(report["planned"][i]) else False,
                s_ra=float(report["s_ra"][i]) if not np.ma.is_masked(report["s_ra"][i]) else np.nan,
                s_dec=float(report["s_dec"][i]) if not np.ma.is_masked(report["s_dec"][i]) else np.nan,
                shapes=parse_s_region(None if region is None or np.ma.is_masked(region) else region))
        elif _SEVERITY.get(verdict, 9) < _SEVERITY.get(entry["verdict"], 9):
            entry["verdict"] = verdict
    # least severe first, so duplicates are drawn on top
    return sorted(found.values(), key=lambda e: -_SEVERITY.get(e["verdict"], 9))


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------

def _field_wcs(center):
    """A TAN WCS centred on ``center`` with 1 arcsec pixels (pixels are arcsec offsets)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = [center.ra.deg, center.dec.deg]
    wcs.wcs.crpix = [0.0, 0.0]
    wcs.wcs.cdelt = [-1 / 3600, 1 / 3600]
    return wcs


def _field_center(coords):
    xyz = np.atleast_2d(coords.cartesian.xyz.value.T).mean(axis=0)
    center = SkyCoord(x=xyz[0], y=xyz[1], z=xyz[2], representation_type="cartesian", frame="icrs")
    return SkyCoord(center.spherical.lon, center.spherical.lat, frame="icrs")


def _draw_footprint(ax, entry):
    """One observation: its footprint shapes, or a cross at its centre; the world corners."""
    from matplotlib.patches import Polygon
    from astropy.visualization.wcsaxes import SphericalCircle

    icrs = ax.get_transform("icrs")
    color = VERDICT_COLORS.get(entry["verdict"], "k")
    style = dict(edgecolor=color, facecolor=(*_rgb(color), 0.12), linewidth=1.4,
                 linestyle="--" if entry["planned"] else "-", transform=icrs,
                 zorder=_zorder(entry["verdict"]))
    gid = f"footprint:{entry['verdict']}:{'planned' if entry['planned'] else 'archived'}:" \
          f"{entry['observation']}"
    outline = []
    for kind, shape in entry["shapes"]:
        if kind == "polygon":
            patch = Polygon(shape, closed=True, **style)
        else:
            ra, dec, radius = shape
            patch = SphericalCircle((ra * u.deg, dec * u.deg), radius * u.deg, **style)
        outline.append(np.asarray(patch.get_xy(), dtype=float))
        patch.set_gid(gid)
        ax.add_patch(patch)
    corners = None
    if outline:
        entry["outline"] = corners = np.concatenate(outline)
    elif np.isfinite(entry["s_ra"]):                 # no footprint: mark the centre
        ax.plot(entry["s_ra"], entry["s_dec"], marker="x", markersize=7, color=color,
                linestyle="none", transform=icrs, gid=gid, zorder=style["zorder"])
        corners = np.array([[entry["s_ra"], entry["s_dec"]]])
    if entry["verdict"] == "DUPLICATE" and entry["proposal_id"] and np.isfinite(entry["s_ra"]):
        ax.annotate(entry["proposal_id"], xy=(entry["s_ra"], entry["s_dec"]), xycoords=icrs,
                    xytext=(4, 4), textcoords="offset points", fontsize=8, fontweight="bold",
                    color=VERDICT_COLORS["DUPLICATE"], gid=f"proposal:{entry['proposal_id']}",
                    zorder=8)
    return corners


def _draw_target(ax, name, coord, radius, label):
    """A target: its duplication circle (radius in arcsec), a cross, and its name when asked."""
    from astropy.visualization.wcsaxes import SphericalCircle

    icrs = ax.get_transform("icrs")
    circle = SphericalCircle(coord, radius * u.arcsec, edgecolor=TARGET_COLOR, facecolor="none",
                             linewidth=1.6, transform=icrs, zorder=7, gid=f"target:{name}")
    ax.add_patch(circle)
    ax.plot(coord.ra.deg, coord.dec.deg, marker="+", markersize=8, color=TARGET_COLOR,
            linestyle="none", transform=icrs, zorder=7)
    if label:
        ax.annotate(name, xy=(coord.ra.deg, coord.dec.deg), xycoords=icrs, xytext=(5, -10),
                    textcoords="offset points", fontsize=7, color=TARGET_COLOR, zorder=8)
    return np.asarray(circle.get_xy())


def _set_view(ax, wcs, corners):
    """Square limits (in arcsec pixels) around everything drawn, with a margin; the half-size."""
    world = np.concatenate(corners)
    x, y = wcs.world_to_pixel_values(world[:, 0], world[:, 1])
    ok = np.isfinite(x) & np.isfinite(y)
    x0, x1, y0, y1 = x[ok].min(), x[ok].max(), y[ok].min(), y[ok].max()
    half = max(x1 - x0, y1 - y0, 2.0) * 0.55
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy - half, cy + half)
    ax.set_aspect("equal")             # 1 arcsec is as long across as up: circles stay round
    return half


def _mark_small_footprints(ax, wcs, entries, half):
    """Footprints too small to see at this scale (IFU, slits next to an MSA field): a marker."""
    for entry in entries:
        if "outline" not in entry:
            continue
        x, y = wcs.world_to_pixel_values(entry["outline"][:, 0], entry["outline"][:, 1])
        if max(np.ptp(x), np.ptp(y)) < 0.02 * half:
            ax.plot(np.mean(x), np.mean(y), marker="D" if entry["planned"] else "s",
                    markersize=7, markerfacecolor="none",
                    markeredgewidth=1.4, color=VERDICT_COLORS.get(entry["verdict"], "k"),
                    linestyle="none", zorder=_zorder(entry["verdict"]),
                    gid=f"marker:{entry['verdict']}:{entry['observation']}")


def _label_axes(ax, half, title):
    ra_axis, dec_axis = ax.coords[0], ax.coords[1]
    ra_axis.set_axislabel("RA (ICRS)")
    dec_axis.set_axislabel("Dec (ICRS)")
    ra_axis.set_major_formatter("hh:mm:ss.s" if half < 120 else "hh:mm:ss")
    dec_axis.set_major_formatter("dd:mm:ss" if half < 120 else "dd:mm")
    ra_axis.set_ticks(number=4)
    dec_axis.set_ticks(number=4)
    ax.coords.grid(color="0.8", linestyle=":", linewidth=0.6)
    ax.set_title(title, fontsize=10)


def _draw_field(ax, wcs, report, names, positions, rows_of, title):
    """Draw one field on a WCSAxes; return the legend entries used."""
    entries = _footprints(report, [i for name in names for i in rows_of[name]])
    corners = [_draw_footprint(ax, entry) for entry in entries]
    used = {entry["verdict"] for entry in entries} | {"target"}
    if any(entry["planned"] for entry in entries):
        used.add("planned")
    for name in names:
        corners.append(_draw_target(ax, name, positions[name], _target_radius(report, rows_of[name]),
                                    label=len(names) <= _MAX_NAMED_TARGETS))
    half = _set_view(ax, wcs, [c for c in corners if c is not None])
    _mark_small_footprints(ax, wcs, entries, half)
    _label_axes(ax, half, title)
    return used


def _zorder(verdict):
    """Footprints above the grid, the more severe verdicts on top."""
    return 2 + len(VERDICTS) - _SEVERITY.get(verdict, len(VERDICTS))


def _rgb(color):
    from matplotlib.colors import to_rgb
    return to_rgb(color)


def _legend_handles(used):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=TARGET_COLOR, marker="o", markerfacecolor="none",
                      markersize=10, linestyle="none", label="target + duplication radius")]
    for verdict in VERDICTS:
        if verdict in used:
            color = VERDICT_COLORS[verdict]
            handles.append(Patch(edgecolor=color, facecolor=(*_rgb(color), 0.12), label=verdict))
    if "planned" in used:
        handles.append(Patch(edgecolor="k", facecolor="none", linestyle="--",
                             label="planned (dashed, \u25c7 when small)"))
    return handles


def _check_report(report, layout):
    """ValueError unless ``report`` is a non-empty duplication report and ``layout`` known."""
    if not isinstance(report, Table):
        raise ValueError(f"report must be the Table of check_duplicates, got {type(report).__name__}.")
    for name in ("target", "verdict", "s_ra", "s_dec", "radius"):
        if name not in report.colnames:
            raise ValueError(f"report lacks the column '{name}': pass the Table returned by "
                             "check_duplicates (or duplication.evaluate).")
    if layout not in ("grid", "separate"):
        raise ValueError(f"layout must be 'grid' or 'separate', got {layout!r}.")
    if len(report) == 0:
        raise ValueError("The report is empty: there is nothing to plot.")


def _panels(report, positions, rows_of, fields):
    """One ``(number, target names, centre, title)`` per sky field, in display order."""
    names = list(positions)
    labels, order = _field_labels(report, names, SkyCoord([positions[n] for n in names]), fields)
    panels = []
    for number, label in enumerate(order, start=1):
        members = [n for n, lab in zip(names, labels) if lab == label]
        center = _field_center(SkyCoord([positions[n] for n in members]))
        n_dup = len({str(report["observation"][i]) for n in members for i in rows_of[n]
                     if str(report["verdict"][i]) == "DUPLICATE"})
        title = (f"Field {label}: {len(members)} target{'s' if len(members) != 1 else ''}, "
                 f"{n_dup} duplicate{'s' if n_dup != 1 else ''}\n"
                 f"{center.to_string('hmsdms', precision=0)}")
        panels.append((number, members, center, title))
    return panels


def _add_legend(fig, used):
    """The legend of the entries drawn, below the panels, in as many columns as fit."""
    handles = _legend_handles(used)
    ncols = max(1, min(len(handles), int(fig.get_figwidth() // 2.4)))
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=8, frameon=False)


def plot_duplicates(report, filename=None, *, fields=None, ncols=None, figsize=None, targets=None,
                    layout="grid", dpi=150):
    """
    Draw a duplication report on the sky, one panel per sky field.

    Each target is drawn with its duplication radius (a circle on the sky), and every
    archived or planned observation found near it with its footprint (``s_region``),
    coloured by its most severe verdict: ``DUPLICATE`` red, ``POSSIBLE`` orange,
    ``NOT_DUPLICATE`` grey; planned observations are dashed, and duplicates are labelled
    with their proposal ID. A footprint too small to see at the panel's scale (an IFU or
    slit next to an MSA field) is also marked by a square, a diamond when planned; an
    observation without a footprint is marked by a cross at its centre.

    Parameters
    ----------
    report : `~astropy.table.Table`
        The result of `~astroquery_nirspec.NirspecMastClass.check_duplicates` (or of
        `~astroquery_nirspec.duplication.evaluate`, which has no ``s_region`` column:
        centres are then marked).
    filename : str or path-like, optional
        Where to save the plot (any format matplotlib writes, from the extension). With
        ``layout="separate"`` one file per field is written, named with a ``_fieldN``
        suffix (``dups.png`` → ``dups_field1.png``, ``dups_field2.png``, ...).
    fields : dict or sequence, optional
        The sky field of each target: a ``{target name: label}`` dict, or one label per
        target in the report's target order. Default: a ``field`` column of the report if
        it has one, else targets within 10 arcmin of each other share a field.
    ncols : int, optional
        Panels per row of the grid (default up to 3).
    figsize : (float, float), optional
        Figure size in inches (default 5.5 x 5.5 per panel).
    targets : `~astropy.table.Table`, str, path-like or list of dict, optional
        Where the targets are: a target list (columns ``name`` and ``ra``, ``dec`` in
        degrees, or ``coord``) or its file. Only needed for a report without the
        ``target_ra`` and ``target_dec`` columns that
        `~astroquery_nirspec.NirspecMastClass.check_duplicates` gives (e.g. the table of
        `~astroquery_nirspec.duplication.evaluate`); when given, its positions are used.
    layout : {"grid", "separate"}
        One figure with a grid of panels (default), or one figure per field.
    dpi : float
        Resolution of saved raster files.

    Returns
    -------
    figure : `matplotlib.figure.Figure`, or list of them
        The grid figure, or one figure per field with ``layout="separate"``. When
        ``filename`` is given, figures are not registered with `matplotlib.pyplot` (no
        window opens and nothing stays in memory); otherwise they are created with
        ``pyplot.figure`` so that ``plt.show()`` displays them.

    Raises
    ------
    ImportError
        When matplotlib is not installed (``pip install "astroquery_nirspec[plot]"``).
    ValueError
        For a table that is not a duplication report, or missing target positions.

    Examples
    --------
    >>> from astroquery_nirspec import NirspecMast
    >>> from astroquery_nirspec.plotting import plot_duplicates
    >>> targets = [{"name": "SN1", "ra": 53.16, "dec": -27.79, "aperture": "IFU",
    ...             "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}]
    >>> report = NirspecMast.check_duplicates(targets)  # doctest: +REMOTE_DATA
    >>> fig = plot_duplicates(report, "duplicates.png")  # doctest: +SKIP
    """
    Figure = _import_matplotlib()
    _check_report(report, layout)
    positions = _target_positions(report, targets)
    rows_of = {n: [] for n in positions}
    for index, name in enumerate(report["target"]):
        rows_of[str(name)].append(index)
    panels = _panels(report, positions, rows_of, fields)

    def new_figure(size):
        if filename is None:
            import matplotlib.pyplot as plt
            return plt.figure(figsize=size, layout="constrained")
        return Figure(figsize=size, layout="constrained")

    def draw(fig, nrows, ncols, index, panel):
        number, members, center, title = panel
        wcs = _field_wcs(center)
        ax = fig.add_subplot(nrows, ncols, index, projection=wcs)
        return _draw_field(ax, wcs, report, members, positions, rows_of, title)

    if layout == "separate":
        figures = []
        for panel in panels:
            fig = new_figure(figsize or (6.0, 6.4))
            _add_legend(fig, draw(fig, 1, 1, 1, panel))
            if filename is not None:
                path = Path(filename)
                fig.savefig(path.with_name(f"{path.stem}_field{panel[0]}{path.suffix}"), dpi=dpi)
            figures.append(fig)
        return figures

    ncols = min(3, len(panels)) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be a positive whole number, got {ncols!r}.")
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(figsize or (5.5 * ncols, 5.5 * nrows + 0.4))
    used = set()
    for index, panel in enumerate(panels, start=1):
        used |= draw(fig, nrows, ncols, index, panel)
    _add_legend(fig, used)
    if filename is not None:
        fig.savefig(filename, dpi=dpi)
    return fig
