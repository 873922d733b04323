"""
The ``nirspec-mast`` command line (also ``python -m astroquery_nirspec``).

Every sub-command goes through the same Python API as a script would
(`~astroquery_nirspec.NirspecMastClass`), so validation and error messages are the
same. Filters are written as ``field=value`` tokens (`parse_filter_token`).

Exit codes: 0 success; 1 the duplication check found a ``DUPLICATE``; 2 bad input (an
invalid filter, field or value, an unresolvable name, an unreadable or unwritable
file, a bad option); 3 the service failed (an error reply, a time-out, a network
error); 4 an unexpected internal error (a bug: please report it with ``--debug``);
130 interrupted.

Examples
--------
>>> from astroquery_nirspec.cli import parse_filter_token
>>> parse_filter_token("effexptm>=1000")
('effexptm', (1000.0, None))
>>> parse_filter_token("exp_type=NRS_IFU,NRS_FIXEDSLIT")
('exp_type', ['NRS_IFU', 'NRS_FIXEDSLIT'])
"""
# Standard library
import argparse
import contextlib
import logging
import os
import sys
import traceback
import warnings

# Third party
import requests
from astropy.utils.exceptions import AstropyWarning
from astroquery.exceptions import (InvalidQueryError, LoginError, RemoteServiceError,
                                   ResolverError, TimeoutError as AstroqueryTimeoutError)

# Local
# (EXTENSIONS, write_table and writable_table stay importable from here, as in 0.1.0)
from .tableio import (EXTENSIONS, FORMATS, STDOUT, TableFileError,  # noqa: F401
                      check_destination, read_table, writable_table, write_table)

__all__ = ["main", "build_parser", "CommandError", "parse_filter_token", "parse_filter_tokens",
           "EXIT_OK", "EXIT_DUPLICATES", "EXIT_BAD_INPUT", "EXIT_SERVICE", "EXIT_INTERNAL"]

PROG = "nirspec-mast"

#: Exit codes.
EXIT_OK, EXIT_DUPLICATES, EXIT_BAD_INPUT, EXIT_SERVICE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A user-facing failure: its message is printed as one line and ``code`` returned."""

    def __init__(self, message, code=EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------
# Filter tokens
# ---------------------------------------------------------------------------------------------

_FILTER_FORMS = ("field=value, field=a,b (any of), field>=x, field<=x, field=a..b "
                 "(inclusive range) or field=pattern with * and ? wildcards")


def _field_type(name):
    """The catalogue type of a field, or None for an unknown one (the API reports it)."""
    from .fields import get_field
    try:
        return get_field(name).type
    except InvalidQueryError:
        return None


def _bound(text, field_type):
    """One range bound: a float for numeric fields (when it reads as one), else the text."""
    text = text.strip()
    if text == "":
        return None
    if field_type in ("int", "float"):
        try:
            return float(text)
        except ValueError:
            return text  # the API names the bad value and what is accepted
    return text


def parse_filter_token(token):
    """
    Parse one command-line filter into the ``(name, value)`` of a Python keyword filter.

    The forms map one to one onto the filters of
    `~astroquery_nirspec.NirspecMastClass.query_filtered`:

    ==========================  ================================  ==========================
    token                       Python value                      meaning
    ==========================  ================================  ==========================
    ``grating=G395H``           ``"G395H"``                       exact value
    ``grating=G395H,G395M``     ``["G395H", "G395M"]``            any of the values
    ``effexptm>=1000``          ``(1000.0, None)``                open range (inclusive)
    ``effexptm<=1000``          ``(None, 1000.0)``                open range (inclusive)
    ``effexptm=500..1000``      ``(500.0, 1000.0)``               inclusive range
    ``filename=*_s3d.fits``     ``"*_s3d.fits"``                  wildcard (``*``, ``?``)
    ==========================  ================================  ==========================

    Values stay text (the API reads numbers given as text, e.g. ``program=1345``),
    except range bounds of numeric fields, which are converted with `float`; date
    bounds stay ISO strings. ``a..b`` is a range only for numeric and date fields;
    either bound may be left out (``effexptm=..1000``). The field name is not checked
    here: the API checks it and suggests the closest name.

    Parameters
    ----------
    token : str
        One filter, as typed on the command line (after the shell's quoting).

    Returns
    -------
    name, value : str, object

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a token that is none of these forms.

    Examples
    --------
    >>> from astroquery_nirspec.cli import parse_filter_token
    >>> parse_filter_token("grating=G395H")
    ('grating', 'G395H')
    >>> parse_filter_token("program=1345")
    ('program', '1345')
    >>> parse_filter_token("effexptm<=1000")
    ('effexptm', (None, 1000.0))
    >>> parse_filter_token("effexptm=500..1000")
    ('effexptm', (500.0, 1000.0))
    >>> parse_filter_token("date_obs=2023-01-01..2023-06-30")
    ('date_obs', ('2023-01-01', '2023-06-30'))
    >>> parse_filter_token("filename=*_s3d.fits")
    ('filename', '*_s3d.fits')
    """
    if not isinstance(token, str):
        raise InvalidQueryError(f"Invalid filter {token!r}: write {_FILTER_FORMS}.")
    text = token.strip()
    position = text.find("=")
    if position < 0:
        if ">" in text or "<" in text:
            raise InvalidQueryError(
                f"Invalid filter {token!r}: strict comparisons (> and <) are not supported; "
                "use >= or <= (ranges are inclusive).")
        raise InvalidQueryError(f"Invalid filter {token!r}: write {_FILTER_FORMS}.")
    operator = "="
    name = text[:position]
    if name.endswith((">", "<", "!")):
        operator = name[-1] + "="
        name = name[:-1]
    name = name.strip()
    value = text[position + 1:]
    if operator == "=" and value.startswith("="):  # tolerate field==value
        value = value[1:]
    value = value.strip()
    if operator == "!=":
        raise InvalidQueryError(
            f"Invalid filter {token!r}: != is not supported; MAST filters select values, "
            f"they cannot exclude them. Write {_FILTER_FORMS}.")
    if not name:
        raise InvalidQueryError(f"Invalid filter {token!r}: no field name before '{operator}'. "
                                f"Write {_FILTER_FORMS}.")
    if not value:
        raise InvalidQueryError(f"Invalid filter {token!r}: no value after '{operator}'. "
                                f"Write {_FILTER_FORMS}.")
    field_type = _field_type(name)
    if operator == ">=":
        return name, (_bound(value, field_type), None)
    if operator == "<=":
        return name, (None, _bound(value, field_type))
    if ".." in value and field_type in ("int", "float", "datetime"):
        low, high = value.split("..", 1)
        low, high = _bound(low, field_type), _bound(high, field_type)
        if low is None and high is None:
            raise InvalidQueryError(f"Invalid filter {token!r}: a range needs at least one bound.")
        return name, (low, high)
    if "," in value:
        return name, [item.strip() for item in value.split(",")]
    return name, value


def parse_filter_tokens(tokens):
    """
    Parse filter tokens into the keyword filters of a query.

    A field given once with ``>=`` and once with ``<=`` becomes one closed range; any
    other repetition is an error, as it is in the Python API.

    Parameters
    ----------
    tokens : iterable of str

    Returns
    -------
    filters : dict
        ``{name: value}`` in the order given.

    Raises
    ------
    astroquery.exceptions.InvalidQueryError
        For a malformed token or a field given twice.

    Examples
    --------
    >>> from astroquery_nirspec.cli import parse_filter_tokens
    >>> parse_filter_tokens(["exp_type=NRS_IFU", "effexptm>=1000", "effexptm<=5000"])
    {'exp_type': 'NRS_IFU', 'effexptm': (1000.0, 5000.0)}
    """
    filters = {}
    for token in tokens:
        name, value = parse_filter_token(token)
        if name in filters:
            old = filters[name]
            if (isinstance(old, tuple) and isinstance(value, tuple)
                    and (old[1] is None) != (value[1] is None)
                    and (old[0] is None) != (value[0] is None)):
                low = old[0] if old[0] is not None else value[0]
                high = old[1] if old[1] is not None else value[1]
                if low is not None and high is not None:
                    filters[name] = (low, high)
                    continue
            raise InvalidQueryError(
                f"Field '{name}' is given twice; combine the values into one filter "
                f"({name}=a,b for any of them, {name}=a..b for a range).")
        filters[name] = value
    return filters


# ---------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------

_FILTER_HELP = """\
filters:
  field=value        exact value            grating=G395H   program=1345
  field=a,b,c        any of the values      exp_type=NRS_IFU,NRS_FIXEDSLIT
  field>=x           at least x             effexptm>=1000
  field<=x           at most x              "date_obs<=2023-06-30"
  field=a..b         from a to b inclusive  effexptm=500..2000  date_obs=2023-01-01..2023-06-30
  field=pattern      * and ? wildcards      "filename=*_s3d.fits"
  Field names are case-insensitive; numbers are in the field's unit and dates are ISO
  (nirspec-mast fields lists every field, its type and unit). Quote tokens holding
  <, >, * or ? so the shell leaves them alone. Filters are ANDed.
"""

_QUERY_EPILOG = _FILTER_HELP + """
examples:
  nirspec-mast query exp_type=NRS_IFU grating=G395H "effexptm>=1000" \\
      --columns filename,targname,effexptm -o ifu.ecsv
  nirspec-mast query --near "NGC 1068" --radius 30arcsec grating=G235H
  nirspec-mast query --near "53.16 -27.79" --radius 2arcmin grating=PRISM --format csv > prism.csv
  nirspec-mast query program=1345 "filename=*_x1d.fits" --limit 100 --all
"""

_COUNT_EPILOG = _FILTER_HELP + """
examples:
  nirspec-mast count exp_type=NRS_MSASPEC program=1345
  nirspec-mast count --near "NGC 1068" --radius 1arcmin exp_type=NRS_IFU
"""

_VALUES_EPILOG = _FILTER_HELP + """
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


def build_parser():
    """
    The `argparse.ArgumentParser` of ``nirspec-mast``.

    Returns
    -------
    parser : `argparse.ArgumentParser`

    Examples
    --------
    >>> from astroquery_nirspec.cli import build_parser
    >>> args = build_parser().parse_args(["count", "exp_type=NRS_MSASPEC", "program=1345"])
    >>> args.command, args.filters
    ('count', ['exp_type=NRS_MSASPEC', 'program=1345'])
    """
    common = _common_parser()
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG, parents=[common], formatter_class=formatter, epilog=_MAIN_EPILOG,
        description="Search MAST for JWST NIRSpec data and check planned targets for "
                    "duplicate observations.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    query = commands.add_parser(
        "query", parents=[common, _output_parser(50)], formatter_class=formatter,
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
        "count", parents=[common], formatter_class=formatter, epilog=_COUNT_EPILOG,
        help="how many files match", description="Count the files matching the filters.")
    count.add_argument("filters", nargs="*", metavar="FILTER", help="field=value criteria (below)")
    _position_options(count)

    values = commands.add_parser(
        "values", parents=[common, _output_parser(None)], formatter_class=formatter,
        epilog=_VALUES_EPILOG, help="distinct values of a field, with counts",
        description="Every distinct value of a field, with the number of files that have it.")
    values.add_argument("field", help="the field, e.g. grating (see nirspec-mast fields)")
    values.add_argument("filters", nargs="*", metavar="FILTER",
                        help="count only within this selection (as --where)")
    values.add_argument("--where", nargs="+", action="extend", default=[], metavar="FILTER",
                        help="field=value criteria selecting the files counted")
    _position_options(values)

    fields = commands.add_parser(
        "fields", parents=[common, _output_parser(None)], formatter_class=formatter,
        epilog=_FIELDS_EPILOG, help="the fields: name, type, unit, description",
        description="List the fields of Mast.Jwst.Filtered.Nirspec (no network needed, "
                    "except with --refresh).")
    fields.add_argument("--match", metavar="TEXT",
                        help="keep fields whose name or description contains TEXT "
                             "(case-insensitive; *, ? wildcards match the whole text)")
    fields.add_argument("--refresh", action="store_true",
                        help="read the live field list (one small request) and show the fields "
                             "added or removed against the shipped catalogue")

    duplicates = commands.add_parser(
        "duplicates", parents=[common, _output_parser(None)], formatter_class=formatter,
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

    download = commands.add_parser(
        "download", parents=[common], formatter_class=formatter, epilog=_DOWNLOAD_EPILOG,
        help="download the files of a query result",
        description="Download the files listed in a table written by 'nirspec-mast query -o'.")
    download.add_argument("table", metavar="TABLE", help="a query result file (.ecsv, .csv, ...)")
    download.add_argument("--dir", default=".", metavar="DIR",
                          help="directory to download into (default: the current directory)")
    download.add_argument("--format", choices=sorted(FORMATS),
                          help="read TABLE in this format (default: from its extension)")
    return parser


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

def _cache(args):
    """False with --no-cache, else astroquery's own setting (``astroquery.cache_conf``)."""
    if args.no_cache:
        return False
    from astroquery import cache_conf
    return bool(cache_conf.cache_active)


def _position(args):
    kwargs = {}
    if args.near is not None:
        kwargs["coordinates"] = args.near
    if args.radius is not None:
        kwargs["radius"] = args.radius
    return kwargs


def _check_output(args):
    """Refuse a bad -o/--format before anything is sent (the query may take long)."""
    if args.output is not None or args.format is not None:
        check_destination(args.output or STDOUT, args.format)


def _show_table(table, args):
    """Write the table to -o / --format, or print it readably."""
    if args.output or args.format:
        fmt = write_table(table, args.output or STDOUT, args.format)
        if args.output and args.output != STDOUT:
            _note(args, f"wrote {len(table)} row{'s' if len(table) != 1 else ''} to "
                        f"{args.output} ({fmt.upper()})")
        return
    if args.show_all:
        table.pprint_all(align=_align(table))
    else:
        # a terminal gets a screenful; a pipe or file gets whole lines
        table.pprint(max_lines=-1 if args.max_lines is None else args.max_lines,
                     max_width=None if _isatty(sys.stdout) else -1, align=_align(table))


def _align(table):
    """Text columns left-aligned, numbers (and times) right-aligned."""
    return ["<" if getattr(table[name], "dtype", None) is not None
            and table[name].dtype.kind in "USO" else ">" for name in table.colnames]


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _note(args, message):
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr)


def _cmd_query(api, args):
    _check_output(args)
    filters = parse_filter_tokens(args.filters)
    kwargs = dict(_position(args), **filters)
    if args.limit is not None:
        kwargs["row_limit"] = args.limit
    if args.pagesize is not None:
        kwargs["pagesize"] = args.pagesize
    if args.page is not None:
        kwargs["page"] = args.page
    table = api.query_filtered(args.columns, cache=_cache(args), **kwargs)
    _show_table(table, args)
    return EXIT_OK


def _cmd_count(api, args):
    filters = parse_filter_tokens(args.filters)
    print(api.query_filtered_count(cache=_cache(args), **_position(args), **filters))
    return EXIT_OK


def _cmd_values(api, args):
    _check_output(args)
    filters = parse_filter_tokens(list(args.where) + list(args.filters))
    table = api.get_parameter_values(args.field, cache=_cache(args), **_position(args), **filters)
    _show_table(table, args)
    return EXIT_OK


def _cmd_fields(api, args):
    _check_output(args)
    if args.refresh:
        changes = api.list_fields(refresh=True)
        _show_table(changes, args)
        _note(args, f"{len(changes)} field(s) differ from the shipped catalogue; the live list is "
                    "used for validation in this command")
        return EXIT_OK
    _show_table(api.list_fields(match=args.match), args)
    return EXIT_OK


def _plot_function():
    """`astroquery_nirspec.plotting.plot_duplicates`, or a CommandError saying why not."""
    try:
        from .plotting import plot_duplicates
    except ImportError as exc:
        raise CommandError(f"--plot is not available: {exc}. Install matplotlib "
                           "(pip install \"astroquery_nirspec[plot]\").") from exc
    return plot_duplicates


def _duplicate_rules(args):
    import astropy.units as u
    from .duplication import DuplicationRules

    kwargs = {}
    if args.exptime_factor is not None:
        kwargs["exptime_factor"] = args.exptime_factor
    if args.near_factor is not None:
        kwargs["near_factor"] = args.near_factor
    radii = {}
    for item in args.radius:
        aperture, sep, angle = item.partition("=")
        if not sep or not aperture.strip() or not angle.strip():
            raise InvalidQueryError(f"Invalid --radius {item!r}: write APERTURE=ANGLE, "
                                    "e.g. IFU=5arcsec.")
        try:
            radii[aperture.strip()] = u.Quantity(angle.strip())
        except (TypeError, ValueError):
            raise InvalidQueryError(f"Invalid --radius {item!r}: {angle.strip()!r} is not an angle "
                                    "with a unit, e.g. 5arcsec.") from None
    if radii:
        kwargs["radii"] = radii
    return DuplicationRules(**kwargs) if kwargs else None


_REPORT_COLUMNS = ("target", "target_mode", "target_aperture", "target_grating", "target_filter",
                   "verdict", "observation", "proposal_id", "mode", "grating", "filter", "planned",
                   "t_exptime", "exptime_ratio", "separation", "source_observed", "source_separation",
                   "reason")
_REPORT_FORMATS = {"t_exptime": ".1f", "exptime_ratio": ".3g", "separation": ".2f",
                   "source_separation": ".2f"}


def _cmd_duplicates(api, args):
    _check_output(args)
    plot = _plot_function() if args.plot else None
    if not os.path.exists(args.targets):
        raise CommandError(f"No such file: '{args.targets}'.")
    report = api.check_duplicates(args.targets, rules=_duplicate_rules(args), cache=_cache(args),
                                  msa_sources=args.msa_sources)
    if args.output or args.format or args.show_all:
        _show_table(report, args)
    else:
        shown = report[[name for name in _REPORT_COLUMNS if name in report.colnames]]
        for name, fmt in _REPORT_FORMATS.items():
            if name in shown.colnames:
                shown[name].info.format = fmt
        _show_table(shown, args)
    if plot is not None:
        try:
            plot(report, args.plot)       # the report carries the targets' positions and fields
        except ImportError as exc:
            raise CommandError(f"--plot is not available: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot draw '{args.plot}': {exc}") from exc
        _note(args, f"drew the report to {args.plot}")
    _note(args, _verdict_summary(report))
    return EXIT_DUPLICATES if "DUPLICATE" in list(report["verdict"]) else EXIT_OK


def _verdict_summary(report):
    """'3 targets: 1 DUPLICATE, 1 POSSIBLE, 1 NOT_DUPLICATE': each target's worst verdict,
    as `~astroquery_nirspec.duplication.summarize_duplicates` ranks them."""
    from .duplication import VERDICTS, summarize_duplicates

    worst = list(summarize_duplicates(report)["verdict"])
    parts = ", ".join(f"{worst.count(name)} {name}" for name in VERDICTS if name in worst)
    return f"{len(worst)} target{'s' if len(worst) != 1 else ''}: {parts}"


def _cmd_download(api, args):
    table = read_table(args.table, args.format)
    manifest = api.download_files(table, download_dir=args.dir, verbose=not args.quiet)
    manifest.pprint(max_lines=-1, max_width=-1, align=_align(manifest))
    statuses = [str(s) for s in manifest["Status"]]
    failed = statuses.count("ERROR")
    if failed:
        raise CommandError(f"{failed} of {len(statuses)} file{'s' if len(statuses) != 1 else ''} "
                           "failed (see the Message column)", EXIT_SERVICE)
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
    _note(args, f"{len(statuses)} file{'s' if len(statuses) != 1 else ''}: {counts}")
    return EXIT_OK


_COMMANDS = {"query": _cmd_query, "count": _cmd_count, "values": _cmd_values,
             "fields": _cmd_fields, "duplicates": _cmd_duplicates, "download": _cmd_download}

_OPTION_DEFAULTS = {"server": None, "timeout": None, "no_cache": False, "login": False,
                    "no_progress": False, "quiet": False, "debug": False}


# ---------------------------------------------------------------------------------------------
# Running a command: configuration, messages and exit codes
# ---------------------------------------------------------------------------------------------

class _StderrLogHandler(logging.Handler):
    """astroquery's log notes, as one ``nirspec-mast: note:`` line each, on stderr."""

    def emit(self, record):
        try:
            print(f"{PROG}: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)
        except Exception:  # pragma: no cover - never let logging break a command
            self.handleError(record)


@contextlib.contextmanager
def _messages(args):
    """Warnings and astroquery log records as one-line messages on stderr (none with -q)."""
    from astroquery import log

    def show(message, category, filename, lineno, file=None, line=None):
        if not args.quiet:
            print(f"{PROG}: warning: {message}", file=sys.stderr)

    handlers, level = list(log.handlers), log.level
    handler = _StderrLogHandler()
    with warnings.catch_warnings():
        warnings.simplefilter("default", AstropyWarning)
        warnings.showwarning = show
        log.handlers[:] = [handler]
        log.setLevel(logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO)
        try:
            yield
        finally:
            log.handlers[:] = handlers
            log.setLevel(level)


@contextlib.contextmanager
def _configured(args, api):
    """conf overrides and login for the duration of one command."""
    from . import conf

    with contextlib.ExitStack() as stack:
        if args.server is not None:
            server = args.server.strip()
            if not server.startswith(("http://", "https://")):
                raise CommandError(f"Invalid --server {args.server!r}: give an http:// or https:// URL.")
            stack.enter_context(conf.set_temp("server", server))
        if args.timeout is not None:
            stack.enter_context(conf.set_temp("timeout", args.timeout))
        if args.no_progress or args.quiet:
            stack.enter_context(conf.set_temp("progress", False))
        if args.login:
            api.login()
            stack.callback(api.logout)
        yield


def _one_line(message):
    """The first line of a message (and the line it introduces, if it ends with a colon)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    if not lines:
        return ""
    text = lines[0]
    if len(lines) > 1 and text.endswith(":"):
        text = f"{text} {lines[1]}"
        lines = lines[1:]
    if len(lines) > 1:
        text += " [...; --debug shows the whole message]"
    return text


def _error(message, code, debug=False):
    if debug:
        traceback.print_exc()
    text = str(message) if debug else _one_line(message)
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return code


def main(argv=None):
    """
    Run ``nirspec-mast`` with the given arguments.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 ok, 1 duplicates found, 2 bad input, 3 service error,
        4 internal error, 130 interrupted.

    Examples
    --------
    >>> from astroquery_nirspec.cli import main
    >>> main(["fields", "--match", "gwa_x"])  # doctest: +ELLIPSIS
      name   type unit                   description...
    -------- ----- ---- ...
    gwa_xp_v float      ...
    gwa_xtil float      ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    for name, default in _OPTION_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)

    from . import NirspecMast

    try:
        with _messages(args), _configured(args, NirspecMast):
            return _COMMANDS[args.command](NirspecMast, args)
    except CommandError as exc:
        return _error(exc, exc.code, args.debug)
    except (TableFileError, InvalidQueryError, ResolverError, LoginError) as exc:
        return _error(exc, EXIT_BAD_INPUT, args.debug)
    except (RemoteServiceError, AstroqueryTimeoutError, TimeoutError,
            requests.RequestException) as exc:
        return _error(str(exc) or type(exc).__name__, EXIT_SERVICE, args.debug)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. "| head": the reader left; not an error of ours
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug: one line, the traceback with --debug
        return _error(f"internal error: {type(exc).__name__}: {exc} (run again with --debug "
                      "for the traceback, and please report it)", EXIT_INTERNAL, args.debug)
