"""
Names of the services and endpoints, and the fields of each service, as MAST's
recorded replies show them (tests/PROTOCOL.md says which recording shows what).

Examples
--------
>>> [f["type"] for f in NIRSPEC_FIELDS if f["name"] in ("ArchiveFileID", "date_obs", "targoopp")]
['string', 'date', 'string']
"""
__all__ = [
    "INVOKE_PATH", "DOWNLOAD_PATH", "COLUMNS_CONFIG_PATH", "NIRSPEC_SERVICE", "CAOM_FILTERED_SERVICE",
    "CAOM_POSITION_SERVICE", "NAME_LOOKUP_SERVICE", "DEFAULT_PAGESIZE", "NUMERIC_TYPES", "BOOLEAN_TYPES",
    "DATE_TYPES", "NIRSPEC_FIELDS", "NIRSPEC_DATE_COLUMNS", "NIRSPEC_FLAG_COLUMNS", "NIRSPEC_GRATING_FILTER_PAIRS",
    "EM_RANGE_NM", "CAOM_FIELDS", "CAOM_NAMES", "CAOM_SEPARATORS",
]

INVOKE_PATH = "/api/v0/invoke"
DOWNLOAD_PATH = "/api/v0.1/Download/file"
COLUMNS_CONFIG_PATH = "/portal/Mashup/Mashup.asmx/columnsconfig"
NIRSPEC_SERVICE = "Mast.Jwst.Filtered.Nirspec"
CAOM_FILTERED_SERVICE = "Mast.Caom.Filtered"
CAOM_POSITION_SERVICE = "Mast.Caom.Filtered.Position"
NAME_LOOKUP_SERVICE = "Mast.Name.Lookup"
#: ``pagesize`` of a request that has none (astroquery always sends one).
DEFAULT_PAGESIZE = 50000

#: ``fields[].type`` values compared as numbers, and as bits.
NUMERIC_TYPES = frozenset({"int", "float", "double", "long", "short", "decimal", "number",
                           "unsignedbyte", "integer"})
BOOLEAN_TYPES = frozenset({"boolean", "bool"})
#: ``fields[].type`` values of dates (``/Date(ms)/`` text); a range on them is ignored.
DATE_TYPES = frozenset({"date", "datetime"})

#: ``Mast.Jwst.Filtered.Nirspec`` fields: a subset of the 2026 reply's columns, in that
#: reply's order, typed as the recorded ``Mast.Jwst.Filtered`` replies type them: dates
#: ``date`` holding ``/Date(ms)/`` (each with a float ``_mjd`` twin); ``ArchiveFileID``,
#: ``fileSize``, ``FileSetId`` and ``checksum`` ``string`` (the first three holding JSON
#: integers, ``checksum`` 32 hex digits as in 2026); the one-letter FITS flags ``string``
#: holding ``"t"``/``"f"``; only ``isRestricted``, ``isItar``, ``isStale`` ``boolean``.
NIRSPEC_FIELDS = [{"name": n, "type": t} for n, t in [
    ("ArchiveFileID", "string"), ("filename", "string"), ("fileSetName", "string"),
    ("productLevel", "string"), ("act_id", "string"), ("apername", "string"), ("bkgdtarg", "string"),
    ("category", "string"), ("dataprob", "string"), ("date_obs", "date"), ("date_obs_mjd", "float"),
    ("detector", "string"), ("duration", "float"), ("effexptm", "float"), ("exp_type", "string"),
    ("expend", "float"), ("exposure", "int"), ("expstart", "float"), ("filter", "string"),
    ("hga_move", "string"), ("instrume", "string"), ("intarget", "string"), ("nexposur", "int"),
    ("ngroups", "int"), ("nints", "int"), ("numdthpt", "int"), ("obs_id", "string"), ("observtn", "int"),
    ("pi_name", "string"), ("program", "int"), ("readpatt", "string"), ("seq_id", "string"),
    ("subarray", "string"), ("targ_dec", "float"), ("targ_ra", "float"), ("targname", "string"),
    ("targoopp", "string"), ("targprop", "string"), ("targtype", "string"), ("template", "string"),
    ("title", "string"), ("tsovisit", "string"), ("visit", "int"), ("visit_id", "string"),
    ("visitgrp", "string"), ("zerofram", "string"), ("exp_only", "string"), ("patt_num", "int"),
    ("patttype", "string"), ("crowdfld", "string"), ("compress", "string"), ("s_region", "string"),
    ("fxd_slit", "string"), ("grating", "string"), ("is_imprt", "string"), ("msametfl", "string"),
    ("hybridff", "string"), ("fileSize", "string"), ("checksum", "string"), ("ingestStartDate", "date"),
    ("ingestStartDate_mjd", "float"), ("ingestCompletionDate", "date"), ("ingestCompletionDate_mjd", "float"),
    ("FileTypeID", "int"), ("publicReleaseDate", "date"), ("publicReleaseDate_mjd", "float"),
    ("isRestricted", "boolean"), ("isItar", "boolean"), ("isStale", "boolean"), ("FileSetId", "string"),
    ("dataURI", "string"),
]]

#: Columns holding MS-JSON dates ``"/Date(ms)/"`` (each has an ``_mjd`` float twin).
NIRSPEC_DATE_COLUMNS = tuple(f["name"] for f in NIRSPEC_FIELDS if f["type"] == "date")

#: The one-letter FITS flags (text ``"t"``/``"f"``, or null where the keyword is absent).
NIRSPEC_FLAG_COLUMNS = ("bkgdtarg", "dataprob", "hga_move", "intarget", "targoopp", "tsovisit",
                        "zerofram", "exp_only", "crowdfld", "compress", "is_imprt", "hybridff")

#: Valid (filter, grating) pairs for NIRSpec spectroscopy.
NIRSPEC_GRATING_FILTER_PAIRS = (
    ("CLEAR", "PRISM"), ("F070LP", "G140M"), ("F100LP", "G140M"), ("F170LP", "G235M"),
    ("F290LP", "G395M"), ("F070LP", "G140H"), ("F100LP", "G140H"), ("F170LP", "G235H"),
    ("F290LP", "G395H"),
)

#: Wavelength coverage (nm) per (filter, grating), used for CAOM em_min/em_max.
EM_RANGE_NM = {
    ("CLEAR", "PRISM"): (600.0, 5300.0), ("F070LP", "G140M"): (700.0, 1270.0),
    ("F100LP", "G140M"): (970.0, 1890.0), ("F170LP", "G235M"): (1660.0, 3170.0),
    ("F290LP", "G395M"): (2870.0, 5270.0), ("F070LP", "G140H"): (700.0, 1270.0),
    ("F100LP", "G140H"): (970.0, 1890.0), ("F170LP", "G235H"): (1660.0, 3170.0),
    ("F290LP", "G395H"): (2870.0, 5270.0),
}

#: ``Mast.Caom.Filtered(.Position)`` fields, in the order of the recorded
#: Filtered.Position response (``distance`` is added by the Position service).
CAOM_FIELDS = [{"name": n, "type": t} for n, t in [
    ("dataproduct_type", "string"), ("calib_level", "int"), ("obs_collection", "string"),
    ("obs_id", "string"), ("target_name", "string"), ("s_ra", "float"), ("s_dec", "float"),
    ("t_min", "float"), ("t_max", "float"), ("t_exptime", "float"),
    ("wavelength_region", "string"), ("filters", "string"), ("em_min", "float"),
    ("em_max", "float"), ("target_classification", "string"), ("obs_title", "string"),
    ("t_obs_release", "float"), ("instrument_name", "string"), ("proposal_pi", "string"),
    ("proposal_id", "string"), ("proposal_type", "string"), ("project", "string"),
    ("sequence_number", "int"), ("provenance_name", "string"), ("s_region", "string"),
    ("jpegURL", "string"), ("dataURL", "string"), ("dataRights", "string"),
    ("mtFlag", "boolean"), ("srcDen", "float"), ("intentType", "string"),
    ("obsid", "string"), ("objID", "string"), ("objID1", "string"),
]]

CAOM_NAMES = frozenset(f["name"] for f in CAOM_FIELDS)

#: Multi-valued CAOM columns and their separator (astroquery's recorded columnsconfig.json).
CAOM_SEPARATORS = {"obs_collection": ";", "project": ";", "filters": ";", "wavelength_region": ";",
                   "target_classification": ";"}
