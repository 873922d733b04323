"""
Duplication checking of planned JWST NIRSpec targets (`astroquery_nirspec.duplication`)
=======================================================================================

Pure building blocks, with no network access:

- `read_targets` reads and validates a target list;
- `group_observations` groups MAST CAOM rows into observations and configurations with their
  total exposure time;
- `evaluate` compares targets with those groups under `DuplicationRules` and gives a verdict
  (``DUPLICATE``, ``POSSIBLE`` or ``NOT_DUPLICATE``) with each criterion in its own column.

>>> from astroquery_nirspec.duplication import DuplicationRules, DUPLICATION_RADII
>>> DUPLICATION_RADII['MSA']
<Quantity 180. arcsec>
"""
from .rules import (
    APERTURE_MODE,
    APERTURES,
    APT_URL,
    DUPLICATION_RADII,
    FILTERS,
    GRATING_BAND,
    GRATING_FILTER_PAIRS,
    GRATING_RESOLUTION,
    GRATING_RESOLVING_POWER,
    GRATINGS,
    INSTRUMENT_MODE,
    MSA_CROSS_RADIUS,
    SPECTROSCOPIC_MODES,
    VERDICTS,
    DuplicationRules,
    apt_url,
    evaluate,
    group_observations,
    observation_label,
    parse_filters,
    parse_observation,
    valid_filters,
)
from .targets import TARGET_COLUMNS, read_targets

__all__ = [
    "APERTURE_MODE",
    "APERTURES",
    "APT_URL",
    "DUPLICATION_RADII",
    "FILTERS",
    "GRATING_BAND",
    "GRATING_FILTER_PAIRS",
    "GRATING_RESOLUTION",
    "GRATING_RESOLVING_POWER",
    "GRATINGS",
    "INSTRUMENT_MODE",
    "MSA_CROSS_RADIUS",
    "SPECTROSCOPIC_MODES",
    "TARGET_COLUMNS",
    "VERDICTS",
    "DuplicationRules",
    "apt_url",
    "evaluate",
    "group_observations",
    "observation_label",
    "parse_filters",
    "parse_observation",
    "read_targets",
    "valid_filters",
]
