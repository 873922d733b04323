"""
Duplication checking of planned JWST NIRSpec targets (`astroquery_nirspec.duplication`)
=======================================================================================

Pure building blocks, with no network access, one concern per module:

- ``nirspec``: NIRSpec facts (apertures, radii, modes,
  dispersers, filters, valid pairs, bands);
- ``caom``: how CAOM encodes NIRSpec (``instrument_name``,
  ``filters``, ``obs_id``) and the rows of several replies as one table;
- ``targets``: `read_targets` reads and validates a target list;
- ``grouping``: `group_observations` groups CAOM rows into
  observations and configurations with their total exposure time;
- ``rules``: `DuplicationRules`, the parameters of a check;
- ``judge``: `evaluate` compares targets with those groups and
  gives a verdict (``DUPLICATE``, ``POSSIBLE`` or ``NOT_DUPLICATE``) with each criterion in
  its own column;
- ``search``: `sky_fields`, the sky fields of a target list and their CAOM
  requests;
- ``report``: `build_report` turns the CAOM replies of a check into its report;
- ``msa``: MOS at the shutter, the MSA metadata files (lookups, reading);
- ``evidence``: `apply_source_evidence` adds what those files show to a report.

>>> from astroquery_nirspec.duplication import DuplicationRules, DUPLICATION_RADII
>>> DUPLICATION_RADII['MSA']
<Quantity 180. arcsec>
"""
from .caom import (
    APT_URL,
    INSTRUMENT_MODE,
    apt_url,
    observation_label,
    parse_filters,
    parse_observation,
)
from .grouping import group_observations
from .judge import evaluate
from .nirspec import (
    APERTURE_MODE,
    APERTURES,
    DUPLICATION_RADII,
    FILTERS,
    GRATING_BAND,
    GRATING_FILTER_PAIRS,
    GRATING_RESOLUTION,
    GRATING_RESOLVING_POWER,
    GRATINGS,
    MODE_APERTURES,
    MODES,
    MSA_CROSS_RADIUS,
    SOURCE_RADIUS,
    SPECTROSCOPIC_MODES,
    valid_filters,
)
from .evidence import apply_source_evidence
from .msa import MsaMetadataError, msa_files, msa_lookup_requests, read_msa_sources, sources_by_observation
from .report import build_report
from .rules import VERDICTS, DuplicationRules
from .search import SkyFields, sky_fields
from .summary import summarize_duplicates
from .targets import TARGET_COLUMNS, TargetList, read_targets

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
    "MODE_APERTURES",
    "MODES",
    "MSA_CROSS_RADIUS",
    "SOURCE_RADIUS",
    "SPECTROSCOPIC_MODES",
    "TARGET_COLUMNS",
    "VERDICTS",
    "DuplicationRules",
    "SkyFields",
    "MsaMetadataError",
    "TargetList",
    "apply_source_evidence",
    "apt_url",
    "build_report",
    "evaluate",
    "group_observations",
    "msa_files",
    "msa_lookup_requests",
    "observation_label",
    "parse_filters",
    "parse_observation",
    "read_msa_sources",
    "read_targets",
    "sky_fields",
    "sources_by_observation",
    "summarize_duplicates",
    "valid_filters",
]
