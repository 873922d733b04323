"""
NIRSpec facts: apertures, their modes and duplication radii, dispersers, filters, valid pairs,
bands and resolutions.

Data only (and one lookup); no I/O. Sources: JDox "Identifying Potential JWST Duplicate
Observations" (Table 1: NIRSpec MOS 180", IFU 4"), JDox "NIRSpec Fixed Slits" (slit lengths,
used as the fixed-slit radii) and JDox "NIRSpec Dispersers and Filters".
"""
from astropy import units as u

__all__ = [
    "DUPLICATION_RADII",
    "MSA_CROSS_RADIUS",
    "SOURCE_RADIUS",
    "APERTURES",
    "APERTURE_MODE",
    "MODES",
    "MODE_APERTURES",
    "BOTS_APERTURE",
    "MSA_CROSS_MODES",
    "SPECTROSCOPIC_MODES",
    "GRATINGS",
    "FILTERS",
    "GRATING_FILTER_PAIRS",
    "GRATING_BAND",
    "GRATING_RESOLUTION",
    "GRATING_RESOLVING_POWER",
    "valid_filters",
]

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

#: Distance within which a primary source of an open MSA shutter is taken to be the target
#: (source-level MOS check), about the size of one MSA shutter.
SOURCE_RADIUS = 0.5 * u.arcsec

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

#: NIRSpec's science templates (observing modes) a target may name: multi-object (MSA),
#: integral field, fixed slit, and bright-object time series (BOTS, through S1600A1).
MODES = ("MOS", "IFU", "FS", "BOTS")

#: The apertures each mode may use. A target without a mode takes its aperture's
#: (`APERTURE_MODE`), so a BOTS target names its mode.
MODE_APERTURES = {
    "MOS": ("MSA",),
    "IFU": ("IFU",),
    "FS": ("S200A1", "S200A2", "S200B1", "S400A1", "S1600A1"),
    "BOTS": ("S1600A1",),
}

#: Fixed-slit and BOTS observations through this aperture use the same slit and elements: one
#: against the other is at most ``POSSIBLE`` ("same aperture and elements, different template").
BOTS_APERTURE = "S1600A1"

#: Target modes whose check also counts MSA (MOS) observations within the MSA cross-check
#: radius: "NIRSpec FS or IFU spectroscopic observations can be considered duplications of MOS
#: observations of the same astronomical target".
MSA_CROSS_MODES = ("FS", "IFU")

#: The spectroscopic modes a duplication check compares.
SPECTROSCOPIC_MODES = MODES

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
