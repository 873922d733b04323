"""
Write NIRSpec MSA metadata files for tests, in the jwst pipeline's layout.

The layout follows ``spacetelescope/jwst`` ``docs/jwst/data_products/msa_metadata.rst``
(HDU 1 ``SHUTTER_IMAGE``, HDU 2 ``SHUTTER_INFO``, HDU 3 ``SOURCE_INFO``, with the documented
column types) and the ``fixed_slit`` column that newer files carry (read by
``jwst/assign_wcs/nirspec.py`` ``get_open_msa_slits``). A source gets a three-shutter slitlet
per dither/nod point, the source in a different shutter at each point as in the example of
that document; only that shutter is flagged ``primary_source`` ``'Y'``.

Typical use::

    from msa_files import msa_source, slitlet, write_msa_file
    sources = [msa_source(7, 53.1, -27.8), msa_source(9, 53.2, -27.8)]
    write_msa_file(tmp_path / "jw01345063001_01_msa.fits", sources,
                   slitlet(1, 7) + slitlet(2, 0))     # source 7 observed, 9 only catalogued
"""
from astropy.io import fits
import numpy as np

__all__ = ["msa_source", "slitlet", "write_msa_file", "SHUTTER_FORMATS", "SOURCE_FORMATS"]

#: SHUTTER_INFO columns and their FITS formats (int16 I, int32 J, float32 E, strings A).
SHUTTER_FORMATS = (
    ("slitlet_id", "I"),
    ("msa_metadata_id", "I"),
    ("shutter_quadrant", "I"),
    ("shutter_row", "I"),
    ("shutter_column", "I"),
    ("source_id", "J"),
    ("background", "A1"),
    ("shutter_state", "A6"),
    ("estimated_source_in_shutter_x", "E"),
    ("estimated_source_in_shutter_y", "E"),
    ("dither_point_index", "I"),
    ("primary_source", "A1"),
    ("fixed_slit", "A7"),
)

#: SOURCE_INFO columns and their FITS formats (int32 J, float64 D, strings A).
SOURCE_FORMATS = (
    ("program", "J"),
    ("source_id", "J"),
    ("source_name", "A31"),
    ("alias", "A31"),
    ("ra", "D"),
    ("dec", "D"),
    ("preimage_id", "A31"),
    ("stellarity", "D"),
)


def msa_source(source_id, ra, dec, *, program=1345, name=None, alias=None):
    """A SOURCE_INFO row (ra, dec in deg); the name defaults to ``<program>_<source_id>``."""
    return {"program": program, "source_id": source_id,
            "source_name": f"{program}_{source_id}" if name is None else name,
            "alias": str(source_id) if alias is None else alias, "ra": ra, "dec": dec,
            "preimage_id": f"{program:05d}001_001", "stellarity": 0.5}


def slitlet(slitlet_id, source_id, *, dither_points=3, state="OPEN", metadata_id=1,
            fixed_slit="NONE", quadrant=2, row=10, column=154):
    """
    SHUTTER_INFO rows of one slitlet of three shutters, at each dither point.

    ``source_id`` 0 makes a background slitlet (no primary source). Otherwise the source sits
    in shutter ``column + (point - 1) % 3`` at dither point ``point`` and that shutter is its
    ``primary_source`` 'Y'; the others are background. ``fixed_slit`` other than 'NONE' gives
    a single fixed-slit row per point instead.
    """
    rows = []
    for point in range(1, dither_points + 1):
        shutters = [0] if fixed_slit != "NONE" else [0, 1, 2]
        for offset in shutters:
            has_source = source_id != 0 and (fixed_slit != "NONE" or offset == (point - 1) % 3)
            rows.append({
                "slitlet_id": slitlet_id, "msa_metadata_id": metadata_id,
                "shutter_quadrant": 0 if fixed_slit != "NONE" else quadrant,
                "shutter_row": 0 if fixed_slit != "NONE" else row,
                "shutter_column": 0 if fixed_slit != "NONE" else column + offset,
                "source_id": source_id if has_source else 0,
                "background": "N" if has_source else "Y", "shutter_state": state,
                "estimated_source_in_shutter_x": 0.4 if has_source else np.nan,
                "estimated_source_in_shutter_y": 0.7 if has_source else np.nan,
                "dither_point_index": point, "primary_source": "Y" if has_source else "N",
                "fixed_slit": fixed_slit})
    return rows


def _table_hdu(formats, rows, name, columns):
    hdu_columns = []
    for column, fmt in formats:
        if column not in columns:
            continue
        values = [row[column] for row in rows]
        if fmt.startswith("A"):
            array = np.array(values, dtype=f"U{max([1] + [len(str(v)) for v in values])}")
        else:
            array = np.array(values, dtype={"I": np.int16, "J": np.int32, "E": np.float32,
                                            "D": np.float64}[fmt])
        hdu_columns.append(fits.Column(name=column, format=fmt, array=array))
    return fits.BinTableHDU.from_columns(hdu_columns, name=name)


def write_msa_file(path, sources, shutters, *, fixed_slit_column=True, image=True,
                   drop_columns=()):
    """
    Write an MSA metadata file.

    Parameters
    ----------
    path : path-like
        Where to write (overwritten).
    sources : list of dict
        SOURCE_INFO rows (`msa_source`).
    shutters : list of dict
        SHUTTER_INFO rows (`slitlet`).
    fixed_slit_column : bool
        Write the newer ``fixed_slit`` column (older files lack it).
    image : bool
        Write the 342 x 730 ``SHUTTER_IMAGE`` (False: an empty image HDU, for small files).
    drop_columns : iterable of str
        Columns to leave out (to test incomplete files).

    Returns
    -------
    path : path-like
        ``path``.
    """
    drop = set(drop_columns) | (set() if fixed_slit_column else {"fixed_slit"})
    shutter_names = [name for name, _ in SHUTTER_FORMATS if name not in drop]
    source_names = [name for name, _ in SOURCE_FORMATS if name not in drop]
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "JWST"
    primary.header["INSTRUME"] = "NIRSPEC"
    data = np.zeros((730, 342), dtype=np.float32) if image else None
    hdus = fits.HDUList([
        primary,
        fits.ImageHDU(data, name="SHUTTER_IMAGE"),
        _table_hdu(SHUTTER_FORMATS, shutters, "SHUTTER_INFO", shutter_names),
        _table_hdu(SOURCE_FORMATS, sources, "SOURCE_INFO", source_names),
    ])
    hdus.writeto(path, overwrite=True)
    return path
