"""
Where to look in CAOM: sky fields of a target list and their ``Mast.Caom.Filtered.Position`` requests.

Targets close on the sky share one request: they are clustered into fields, and each
field is queried once with a radius of the field's extent plus the largest distance
at which a candidate can still matter (the duplication radius, the MSA cross-check
radius, times the "near" factor). Pure functions, no I/O: the requests are sent by
`~astroquery_nirspec.NirspecMastClass.check_duplicates_async`.
"""
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord

from .caom import caom_rows_table  # noqa: F401  (moved to caom; importable here as before)
from .nirspec import MSA_CROSS_MODES

__all__ = ["CAOM_SERVICE", "MAX_FIELD_RADIUS", "SkyFields", "cluster_targets", "search_radius",
           "sky_fields", "field_requests"]

#: CAOM holds planned (calib_level -1) and exclusive-access observations; the JWST
#: file-level service does not (mast-protocol.md §0.5).
CAOM_SERVICE = "Mast.Caom.Filtered.Position"

#: The largest radius of one sky field: targets farther apart go to separate requests.
MAX_FIELD_RADIUS = 10 * u.arcmin

#: Server-side filters of every CAOM request. Instrument names are matched with a
#: wildcard (NIRSPEC/MSA, NIRSPEC/IFU, NIRSPEC/SLIT and bare NIRSPEC rows);
#: science intent and configuration are judged on the client, where the rules live.
CAOM_FILTERS = (
    {"paramName": "obs_collection", "values": ["JWST"]},
    {"paramName": "instrument_name", "values": [], "freeText": "NIRSPEC%"},
)


def search_radius(targets, rules):
    """
    How far from each target a candidate can still be reported.

    Parameters
    ----------
    targets : `~astropy.table.Table`
        Output of `~astroquery_nirspec.duplication.read_targets`.
    rules : `~astroquery_nirspec.duplication.DuplicationRules`

    Returns
    -------
    radius : `~astropy.coordinates.Angle`
        One per target: ``near_factor`` times the larger of its duplication radius and,
        for fixed-slit and IFU targets, the MSA cross-check radius.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import DuplicationRules, read_targets
    >>> t = read_targets([{"name": "a", "ra": 10, "dec": 20, "aperture": "IFU",
    ...                    "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}])
    >>> search_radius(t, DuplicationRules()).to("arcsec")
    <Angle [270.] arcsec>
    """
    radius = rules.radii_for(targets["aperture"]).to_value(u.arcsec)
    cross = np.isin(np.asarray(targets["mode"], dtype=str), MSA_CROSS_MODES)
    radius = np.where(cross, np.maximum(radius, rules.msa_cross_radius.to_value(u.arcsec)), radius)
    return Angle(radius * rules.near_factor, u.arcsec)


def _directions(xyz):
    """The directions of unit vectors ``xyz`` (3, n) as an ICRS `~astropy.coordinates.SkyCoord`."""
    center = SkyCoord(x=xyz[0] * u.one, y=xyz[1] * u.one, z=xyz[2] * u.one,
                      representation_type="cartesian", frame="icrs")
    center.representation_type = "spherical"
    return SkyCoord(center.ra, center.dec, frame="icrs")


def cluster_targets(coords, *, max_radius=MAX_FIELD_RADIUS):
    """
    Group positions into sky fields no larger than ``max_radius``.

    Greedy: the first unassigned position seeds a field that takes every unassigned
    position within ``max_radius`` of it; the field centre is then the mean direction
    of its members and its extent their largest separation from that centre.

    Parameters
    ----------
    coords : `~astropy.coordinates.SkyCoord`
        Target positions (an array).
    max_radius : `~astropy.units.Quantity`
        Largest distance of a member from its seed.

    Returns
    -------
    labels : `numpy.ndarray` of int
        Field index of each position.
    centers : `~astropy.coordinates.SkyCoord`
        Field centres.
    extents : `~astropy.coordinates.Angle`
        Largest separation of a member from its field's centre.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.coordinates import SkyCoord
    >>> c = SkyCoord([359.999, 0.001, 150.0] * u.deg, [0, 0, 2] * u.deg)
    >>> labels, centers, extents = cluster_targets(c)
    >>> labels.tolist(), round(float(extents[0].to_value(u.arcsec)), 1)
    ([0, 0, 1], 3.6)
    """
    coords = coords.icrs
    labels = _greedy_labels(coords, Angle(max_radius))
    # the centre of a field is the normalised mean of its members' unit vectors: right across
    # RA 0 and the poles
    xyz = coords.cartesian.xyz.value
    means = [xyz[:, members].mean(axis=1) for members in _members(labels)]
    centers = _directions(np.array(means).T.reshape(3, -1))
    extents = np.zeros(len(centers))
    if len(labels):
        np.maximum.at(extents, labels, coords.separation(centers[labels]).to_value(u.deg))
    return labels, centers, Angle(extents, u.deg)


def _members(labels):
    """The indices of each label's members, label by label."""
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(labels[order])) + 1) if len(labels) else []


def _greedy_labels(coords, max_radius):
    """
    The field of each position: the first unassigned position seeds a field that takes every
    unassigned position within ``max_radius`` of it. Only the positions of the seed's band of
    declination are compared with it (a separation is never smaller than the difference in
    declination), so the work grows with the positions near each other.
    """
    labels = np.full(len(coords), -1, dtype=int)
    dec = coords.dec.deg
    by_dec = np.argsort(dec, kind="stable")
    sorted_dec = dec[by_dec]
    band = max_radius.to_value(u.deg) * (1 + 1e-9) + 1e-12   # the exact cut follows
    n_fields = 0
    for seed in range(len(coords)):
        if labels[seed] >= 0:
            continue
        lo = np.searchsorted(sorted_dec, dec[seed] - band, side="left")
        hi = np.searchsorted(sorted_dec, dec[seed] + band, side="right")
        candidates = np.sort(by_dec[lo:hi])
        free = candidates[labels[candidates] < 0]
        near = free[coords[free].separation(coords[seed]) <= max_radius]
        labels[near] = n_fields
        n_fields += 1
    return labels


@dataclass(frozen=True)
class SkyFields:
    """
    The sky fields of a target list and the CAOM request of each.

    Attributes
    ----------
    requests : list of dict
        One ``Mast.Caom.Filtered.Position`` request per field.
    labels : `numpy.ndarray` of int
        The field of each target (an index into the other attributes).
    centers : `~astropy.coordinates.SkyCoord`
        The centre of each field (the position of its request).
    radii : `~astropy.coordinates.Angle`
        The search radius of each field, the one written into its request: the field's
        extent plus the largest `search_radius` of its targets.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import DuplicationRules, read_targets, sky_fields
    >>> t = read_targets([{"name": "a", "ra": 10, "dec": 20, "aperture": "IFU",
    ...                    "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}])
    >>> fields = sky_fields(t, DuplicationRules(), pagesize=50000)
    >>> len(fields), fields.labels.tolist(), fields.radii.to("arcsec")
    (1, [0], <Angle [270.] arcsec>)
    """

    requests: list
    labels: np.ndarray
    centers: SkyCoord
    radii: Angle

    def __len__(self):
        return len(self.requests)


def _field_request(center, radius, pagesize):
    """The CAOM request of one field (centre and radius in degrees)."""
    position = f"{center[0]:.10g}, {center[1]:.10g}, {radius:.10g}"
    return {"service": CAOM_SERVICE,
            "params": {"columns": "*", "filters": [dict(f) for f in CAOM_FILTERS],
                       "position": position},
            "format": "json", "pagesize": int(pagesize), "page": 1}


def sky_fields(targets, rules, *, pagesize, max_radius=MAX_FIELD_RADIUS):
    """
    The sky fields that cover every target of a list, with one CAOM request each.

    Parameters
    ----------
    targets : `~astropy.table.Table`
        Output of `~astroquery_nirspec.duplication.read_targets`.
    rules : `~astroquery_nirspec.duplication.DuplicationRules`
    pagesize : int
        Rows per page.
    max_radius : `~astropy.units.Quantity`
        Largest field radius (targets are clustered within it).

    Returns
    -------
    fields : `SkyFields`
        The requests, the field of each target, and each field's centre and search
        radius.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import DuplicationRules, read_targets, sky_fields
    >>> t = read_targets([{"name": n, "ra": ra, "dec": -27.8, "aperture": "MSA",
    ...                    "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}
    ...                   for n, ra in [("a", 53.1), ("b", 53.102), ("c", 150.0)]])
    >>> fields = sky_fields(t, DuplicationRules(), pagesize=50000)
    >>> fields.labels.tolist(), fields.centers.ra.deg.round(3).tolist()
    ([0, 0, 1], [53.101, 150.0])
    >>> fields.requests[1]["params"]["position"], fields.radii[1].to("arcsec")
    ('150, -27.8, 0.075', <Angle 270. arcsec>)
    """
    labels, centers, extents = cluster_targets(targets["coord"], max_radius=max_radius)
    reach = search_radius(targets, rules).to_value(u.deg)
    widest = np.full(len(centers), -np.inf)
    np.maximum.at(widest, labels, reach)
    radii = extents.to_value(u.deg) + widest
    requests = [_field_request(center, radius, pagesize)
                for center, radius in zip(zip(centers.ra.deg, centers.dec.deg), radii)]
    return SkyFields(requests=requests, labels=labels, centers=centers, radii=Angle(radii, u.deg))


def field_requests(targets, rules, *, pagesize, max_radius=MAX_FIELD_RADIUS):
    """
    The CAOM requests that cover every target of a list, one per sky field.

    The requests and labels of `sky_fields`.

    Parameters
    ----------
    targets, rules, pagesize, max_radius
        As in `sky_fields`.

    Returns
    -------
    requests : list of dict
        Mashup requests for ``Mast.Caom.Filtered.Position``.
    labels : `numpy.ndarray` of int
        The field of each target.

    Examples
    --------
    >>> from astroquery_nirspec.duplication import DuplicationRules, read_targets
    >>> t = read_targets([{"name": n, "ra": 53.1 + i * 0.001, "dec": -27.8, "aperture": "MSA",
    ...                    "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}
    ...                   for i, n in enumerate("abc")])
    >>> requests, labels = field_requests(t, DuplicationRules(), pagesize=50000)
    >>> len(requests), requests[0]["params"]["position"]
    (1, '53.101, -27.8, 0.07588458098')
    """
    fields = sky_fields(targets, rules, pagesize=pagesize, max_radius=max_radius)
    return fields.requests, fields.labels
