"""
The arguments of the ``nirspec-mast`` command line: its `argparse` parser, one
sub-command per job of the Python API, and their help texts. Nothing here runs a
command (``astroquery_nirspec.cli`` does).

Examples
--------
>>> from astroquery_nirspec.cli_parser import build_parser
>>> args = build_parser().parse_args(["values", "grating", "--where", "exp_type=NRS_IFU"])
>>> args.command, args.field, args.where
('values', 'grating', ['exp_type=NRS_IFU'])
"""
import argparse

from .filter_tokens import FILTER_HELP
from .tableio import FORMATS

__all__ = ["build_parser", "PROG"]

PROG = "nirspec-mast"


_QUERY_EPILOG = FILTER_HELP + """
examples:
  nirspec-mast query exp_type=NRS_IFU grating=G395H "effexptm>=1000" \\
      --columns filename,targname,effexptm -o ifu.ecsv
  nirspec-mast query --near "NGC 1068" --radius 30arcsec grating=G235H
  nirspec-mast query --near "53.16 -27.79" --radius 2arcmin grating=PRISM --format csv > prism.csv
  nirspec-mast query program=1345 "filename=*_x1d.fits" --limit 100 --all
"""

_COUNT_EPILOG = FILTER_HELP + """
examples:
  nirspec-mast count exp_type=NRS_MSASPEC program=1345
  nirspec-mast count --near "NGC 1068" --radius 1arcmin exp_type=NRS_IFU
"""

_VALUES_EPILOG = FILTER_HELP + """
examples:
  nirspec-mast values grating --where exp_type=NRS_FIXEDSLIT
  nirspec-mast values exp_type program=1345
  nirspec-mast values targname --near "NGC 1068" --radius 1arcmin -o names.csv
"""

_FIELDS_EPILOG = """\
examples:
  nirspec-mast fields
  nirspec-mast fields --match exp         # name or description contains "exp"
  nirspec-mast fields --match "gwa_*"     # shell pattern on the name or description
  nirspec-mast fields -o fields.csv
"""

_DUPLICATES_EPILOG = """\
The target list (ECSV, CSV or any table astropy reads) has the columns name, ra, dec
(ICRS degrees), aperture (MSA, IFU, S200A1, S200A2, S400A1, S1600A1, S200B1), grating,
filter and exposure_time (planned total, s). Every target is compared with executed,
exclusive-access and planned (calib_level -1) NIRSpec observations in MAST's CAOM.
Verdicts: DUPLICATE, POSSIBLE (one soft failure: review it in APT), NOT_DUPLICATE.
The exit status is 1 when any target has a DUPLICATE.

examples:
  nirspec-mast duplicates targets.csv
  nirspec-mast duplicates targets.csv -o report.ecsv --plot report.png
  nirspec-mast duplicates examples/targets.ecsv -o report.ecsv --plot report.png
      (from a checkout of the repository: six example targets)
  nirspec-mast duplicates targets.ecsv --exptime-factor 3 --radius IFU=5arcsec
"""

_DOWNLOAD_EPILOG = """\
The table is a query result written with -o (it needs the dataURI column); its files
are downloaded into --dir.

examples:
  nirspec-mast query exp_type=NRS_IFU program=1345 "filename=*_s3d.fits" -o ifu.ecsv
  nirspec-mast download ifu.ecsv --dir data/
"""

_MAIN_EPILOG = """\
commands:
  query        files matching filters (and a sky position), as a table
  count        how many files match, without fetching them
  values       the distinct values of a field, with counts
  fields       the fields that can be filtered on and returned
  duplicates   check planned targets for duplicate observations
  download     download the files listed in a query result

exit status: 0 ok, 1 duplicates found, 2 bad input, 3 MAST failed or timed out,
4 internal error. Run "nirspec-mast COMMAND --help" for a command's options and examples.
"""


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


def _common_parser():
    """Options accepted before or after the sub-command (defaults are applied in `main`)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output options")
    group.add_argument("--server", metavar="URL", default=argparse.SUPPRESS,
                       help="MAST server (default: the configured server, conf.server)")
    group.add_argument("--timeout", metavar="SECONDS", type=_positive_float,
                       default=argparse.SUPPRESS,
                       help="time limit of one query, in s (default: conf.timeout)")
    group.add_argument("--no-cache", dest="no_cache", action="store_true",
                       default=argparse.SUPPRESS, help="neither read nor write astroquery's cache")
    group.add_argument("--login", action="store_true", default=argparse.SUPPRESS,
                       help="log in with the token in the MAST_API_TOKEN environment variable "
                            "(for exclusive-access data; never put a token on the command line)")
    group.add_argument("--no-progress", dest="no_progress", action="store_true",
                       default=argparse.SUPPRESS, help="no progress bars on standard error")
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars, warnings or notes on standard error")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error")
    return common


def _output_parser(default_lines):
    out = argparse.ArgumentParser(add_help=False)
    group = out.add_argument_group("table output")
    group.add_argument("-o", "--output", metavar="FILE",
                       help="write the table to FILE, format from the extension: .ecsv, .csv, "
                            ".xml or .vot (VOTable), .fits; '-' for standard output")
    group.add_argument("--format", choices=sorted(FORMATS),
                       help="write this format (to standard output without -o)")
    group.add_argument("--all", action="store_true", dest="show_all",
                       help="print every row and column instead of a screenful")
    group.add_argument("--max-lines", type=_positive_int, metavar="N", default=default_lines,
                       help="print at most N lines of the table "
                            f"(default: {default_lines or 'all rows'})")
    return out


def _position_options(parser):
    group = parser.add_argument_group("sky position")
    group.add_argument("--near", metavar="POSITION",
                       help='an object name resolved by MAST ("NGC 1068") or "ra dec" in degrees '
                            'or sexagesimal ("53.16 -27.79")')
    group.add_argument("--radius", metavar="ANGLE",
                       help="cone radius with its unit, e.g. 30arcsec, 2arcmin, 0.1deg")


_FORMATTER = argparse.RawDescriptionHelpFormatter


def build_parser():
    """
    The `argparse.ArgumentParser` of ``nirspec-mast``.

    Returns
    -------
    parser : `argparse.ArgumentParser`

    Examples
    --------
    >>> from astroquery_nirspec.cli_parser import build_parser
    >>> args = build_parser().parse_args(["count", "exp_type=NRS_MSASPEC", "program=1345"])
    >>> args.command, args.filters
    ('count', ['exp_type=NRS_MSASPEC', 'program=1345'])
    """
    common = _common_parser()
    parser = argparse.ArgumentParser(
        prog=PROG, parents=[common], formatter_class=_FORMATTER, epilog=_MAIN_EPILOG,
        description="Search MAST for JWST NIRSpec data and check planned targets for "
                    "duplicate observations.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_search_commands(commands, common)
    _add_fields_command(commands, common)
    _add_duplicates_command(commands, common)
    _add_download_command(commands, common)
    return parser


def _add_search_commands(commands, common):
    """``query``, ``count`` and ``values``: the filters and position of a query."""
    query = commands.add_parser(
        "query", parents=[common, _output_parser(50)], formatter_class=_FORMATTER,
        epilog=_QUERY_EPILOG, help="files matching filters, as a table",
        description="Query NIRSpec file-level metadata (Mast.Jwst.Filtered.Nirspec).")
    query.add_argument("filters", nargs="*", metavar="FILTER", help="field=value criteria (below)")
    query.add_argument("-c", "--columns", metavar="LIST",
                       help="comma-separated fields to return (wildcards allowed); default all")
    query.add_argument("--limit", type=_positive_int, metavar="N",
                       help="return at most N rows (default: conf.row_limit)")
    query.add_argument("--pagesize", type=_positive_int, metavar="N",
                       help="rows per request page (default: conf.pagesize)")
    query.add_argument("--page", type=_positive_int, metavar="N",
                       help="fetch only page N (default: every page)")
    _position_options(query)

    count = commands.add_parser(
        "count", parents=[common], formatter_class=_FORMATTER, epilog=_COUNT_EPILOG,
        help="how many files match", description="Count the files matching the filters.")
    count.add_argument("filters", nargs="*", metavar="FILTER", help="field=value criteria (below)")
    _position_options(count)

    values = commands.add_parser(
        "values", parents=[common, _output_parser(None)], formatter_class=_FORMATTER,
        epilog=_VALUES_EPILOG, help="distinct values of a field, with counts",
        description="Every distinct value of a field, with the number of files that have it.")
    values.add_argument("field", help="the field, e.g. grating (see nirspec-mast fields)")
    values.add_argument("filters", nargs="*", metavar="FILTER",
                        help="count only within this selection (as --where)")
    values.add_argument("--where", nargs="+", action="extend", default=[], metavar="FILTER",
                        help="field=value criteria selecting the files counted")
    _position_options(values)


def _add_fields_command(commands, common):
    fields = commands.add_parser(
        "fields", parents=[common, _output_parser(None)], formatter_class=_FORMATTER,
        epilog=_FIELDS_EPILOG, help="the fields: name, type, unit, description",
        description="List the fields of Mast.Jwst.Filtered.Nirspec (no network needed, "
                    "except with --refresh).")
    fields.add_argument("--match", metavar="TEXT",
                        help="keep fields whose name or description contains TEXT "
                             "(case-insensitive; *, ? wildcards match the whole text)")
    fields.add_argument("--refresh", action="store_true",
                        help="read the live field list (one small request) and show the fields "
                             "added or removed against the shipped catalogue")


def _add_duplicates_command(commands, common):
    duplicates = commands.add_parser(
        "duplicates", parents=[common, _output_parser(None)], formatter_class=_FORMATTER,
        epilog=_DUPLICATES_EPILOG, help="check planned targets for duplicate observations",
        description="Check a list of planned NIRSpec targets against archived and planned "
                    "observations under the JWST duplicate-observation rules.")
    duplicates.add_argument("targets", metavar="TARGETS", help="the target list file")
    duplicates.add_argument("--plot", metavar="FILE",
                            help="also draw the report to FILE (.png, .pdf, .svg; needs matplotlib)")
    duplicates.add_argument("--exptime-factor", type=float, metavar="F",
                            help="exposure ratio accepted as similar: 1/F to F (default 4)")
    duplicates.add_argument("--near-factor", type=float, metavar="F",
                            help="a centre within F times the radius is a soft failure "
                                 "(default 1.5)")
    duplicates.add_argument("--no-msa-sources", dest="msa_sources", action="store_false",
                            help="judge MOS observations at the field level only: do not read "
                                 "their MSA metadata files for the sources in open shutters")
    duplicates.add_argument("--radius", action="append", default=[], metavar="APERTURE=ANGLE",
                            help="override an aperture's search radius, e.g. IFU=5arcsec "
                                 "(repeatable)")


def _add_download_command(commands, common):
    download = commands.add_parser(
        "download", parents=[common], formatter_class=_FORMATTER, epilog=_DOWNLOAD_EPILOG,
        help="download the files of a query result",
        description="Download the files listed in a table written by 'nirspec-mast query -o'.")
    download.add_argument("table", metavar="TABLE", help="a query result file (.ecsv, .csv, ...)")
    download.add_argument("--dir", default=".", metavar="DIR",
                          help="directory to download into (default: the current directory)")
    download.add_argument("--format", choices=sorted(FORMATS),
                          help="read TABLE in this format (default: from its extension)")
