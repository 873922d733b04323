"""
The ``nirspec-mast`` command line (also ``python -m astroquery_nirspec``).

Every sub-command goes through the same Python API as a script would
(`~astroquery_nirspec.NirspecMastClass`), so validation and error messages are the
same. Filters are written as ``field=value`` tokens
(`astroquery_nirspec.filter_tokens`); tables are read and written by
`astroquery_nirspec.tableio`.

Exit codes: 0 success; 1 the duplication check found a ``DUPLICATE``; 2 bad input (an
invalid filter, field or value, an unresolvable name, an unreadable or unwritable
file, a bad option); 3 the service failed (an error reply, a time-out, a network
error); 4 an unexpected internal error (a bug: please report it with ``--debug``);
130 interrupted.

Examples
--------
A misspelt field is bad input (exit code 2), reported on standard error before any
request:

>>> from astroquery_nirspec.cli import main, EXIT_BAD_INPUT
>>> main(["count", "gratng=G395H"]) == EXIT_BAD_INPUT
True
"""
# Standard library
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
# (build_parser, parse_filter_token(s), EXTENSIONS, FORMATS, write_table and writable_table
# stay importable from here, as in 0.1.0)
from .cli_parser import PROG, build_parser
from .filter_tokens import parse_filter_token, parse_filter_tokens  # noqa: F401
from .tableio import (EXTENSIONS, FORMATS, STDOUT, TableFileError,  # noqa: F401
                      check_destination, read_table, writable_table, write_table)

__all__ = ["main", "CommandError",
           "EXIT_OK", "EXIT_DUPLICATES", "EXIT_BAD_INPUT", "EXIT_SERVICE", "EXIT_INTERNAL"]

#: Exit codes.
EXIT_OK, EXIT_DUPLICATES, EXIT_BAD_INPUT, EXIT_SERVICE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A user-facing failure: its message is printed as one line and ``code`` returned."""

    def __init__(self, message, code=EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


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
