"""
`NirspecMastClass`: the public query methods, wired from the modules that do the work.

Validation and payloads (`astroquery_nirspec.filters`, `astroquery_nirspec.sky`,
`astroquery_nirspec.payload`), the token (`astroquery_nirspec.auth`), the transport
(`astroquery_nirspec.transport`), Table building (`astroquery_nirspec.tables`), the
duplication rules (`astroquery_nirspec.duplication`, `astroquery_nirspec.msa_evidence`)
and downloads (`astroquery_nirspec.download`) live apart; each ``*_async`` method here
validates, builds the request and sends it, and `astroquery_nirspec.results` turns the
pages into the result.
"""
# Standard library
from pathlib import Path

# Third party
from astropy import units as u
from astropy.coordinates import SkyCoord
from astroquery.exceptions import InvalidQueryError, ResolverError
from astroquery.query import BaseQuery
from astroquery.utils import async_to_sync

# Local
from . import conf
from . import fields as _fields
from . import filters as _filters
from . import payload, sky, tables, transport
from .progress import page_reporter, progress_bar
from .duplication import DuplicationRules, read_targets
from .duplication import search as _search
from .auth import LoginMixin
from .download import DownloadMixin
from .msa_evidence import add_source_evidence
from .results import ResponseList, parse_result

__all__ = ["NirspecMast", "NirspecMastClass", "ResponseList"]


@async_to_sync
class NirspecMastClass(LoginMixin, DownloadMixin, BaseQuery):
    """
    Query MAST's JWST NIRSpec file-level metadata (``Mast.Jwst.Filtered.Nirspec``).

    Settings are read from `astroquery_nirspec.conf` at every call. No request is
    made at import or when the class is instantiated.

    Examples
    --------
    >>> from astroquery_nirspec import NirspecMast
    >>> NirspecMast.query_filtered(grating="G140M", get_query_payload=True)["service"]
    'Mast.Jwst.Filtered.Nirspec'
    """

    SERVICE = _fields.SERVICE
    NAME_LOOKUP_SERVICE = "Mast.Name.Lookup"

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _progress_enabled():
        """Bars only when conf.progress allows it and stderr is a terminal."""
        return None if conf.progress else False

    def _send(self, request, *, cache, retrieve_all=True, row_limit=None, is_complete=None,
              page_bar=True, as_tables=False):
        """
        Send ``request`` through the transport, with a page bar; the only I/O path of queries.
        With ``as_tables`` each page becomes its Table in the thread that fetched it
        (`tables.reply_to_table`), while the next pages download.
        """
        kwargs = {"is_complete": is_complete} if is_complete else {}
        show = self._progress_enabled() if retrieve_all and page_bar else False
        with progress_bar(desc=request["service"], unit="page", enabled=show) as bar:
            return transport.invoke(self, request, cache=self._cache_allowed(cache),
                                    retrieve_all=retrieve_all, row_limit=row_limit,
                                    headers=self._auth_headers(), progress=page_reporter(bar),
                                    convert=tables.reply_to_table if as_tables else None, **kwargs)

    def _resolve(self, coordinates, *, cache):
        """A SkyCoord for a position or an object name (names go to MAST's resolver)."""
        coord = sky.parse_coordinates(coordinates)
        if coord is None:
            coord = self.resolve_object(coordinates, cache=cache)
        return coord

    def _prepare(self, columns, coordinates, radius, filters, *, cache):
        """Validate everything and return (columns string, filters, cone, wanted names)."""
        wanted = _filters.parse_columns(columns)
        filter_list = _filters.build_filters(filters)
        cone = None
        if coordinates is not None or radius is not None:
            if coordinates is None:
                raise InvalidQueryError("radius= was given without coordinates=.")
            angle = sky.parse_radius(radius)
            for name in payload.POSITION_COLUMNS:
                if any(f["paramName"] == name for f in filter_list):
                    raise InvalidQueryError(
                        f"Give either coordinates= or a {name} filter, not both.")
            center = self._resolve(coordinates, cache=cache)
            filter_list.extend(sky.cone_filters(center, angle))
            cone = (center, angle)
        return payload.sent_columns(wanted, cone=cone is not None), filter_list, cone, wanted

    # ------------------------------------------------------------------ queries
    def query_filtered_async(self, columns=None, *, coordinates=None, radius=None, pagesize=None,
                             page=None, row_limit=None, cache=None, get_query_payload=False,
                             **filters):
        """
        Query NIRSpec file-level metadata with filters on any field.

        Parameters
        ----------
        columns : str or list of str, optional
            Fields to return, as a list or a comma-separated string (shell wildcards
            allowed); default all.
        coordinates : str or `~astropy.coordinates.SkyCoord`, optional
            Centre of a cone on ``targ_ra``/``targ_dec``: a SkyCoord, an ``"ra dec"``
            string in degrees, or an object name resolved by MAST.
        radius : `~astropy.units.Quantity`, optional
            Cone radius, required with ``coordinates`` (a bare number is an error).
        pagesize : int, optional
            Rows per page (default ``conf.pagesize``).
        page : int, optional
            Fetch only this page (1-based); by default every page is fetched.
        row_limit : int, optional
            Stop after this many rows (``-1``: no limit; default ``conf.row_limit``).
        cache : bool, optional
            Use astroquery's cache (default: astroquery's ``cache_active`` setting).
        get_query_payload : bool, optional
            Return the Mashup request dict instead of querying.
        **filters
            ``field=value`` criteria, ANDed: a scalar for an exact value, a list for
            any of its values, a ``(min, max)`` tuple for an inclusive range (either
            bound `None`), a string with ``*``/``?`` for a wildcard, a Quantity for
            fields with units, a `~astropy.time.Time` or ISO string for dates.

        Returns
        -------
        responses : list of `requests.Response`
            One per page (a `ResponseList`).

        Raises
        ------
        astroquery.exceptions.InvalidQueryError
            For an unknown field (with the closest valid name) or a bad value,
            before any request is sent.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> payload = NirspecMast.query_filtered(grating="G140M", effexptm=(1000, None),
        ...                                      get_query_payload=True)
        >>> payload["params"]["filters"][1]
        {'paramName': 'effexptm', 'values': [{'min': 1000, 'max': 1e+300}]}
        """
        limit = payload.checked_row_limit(row_limit)
        paging = payload.Paging.checked(pagesize, page)
        columns_text, filter_list, cone, wanted = self._prepare(
            columns, coordinates, radius, filters, cache=cache)
        request = payload.nirspec_request(columns_text, filter_list, paging)
        if get_query_payload:
            return request
        responses = self._send(request, cache=cache, retrieve_all=page is None,
                               row_limit=None if cone else limit, as_tables=True)
        return ResponseList(responses, kind="rows", cone=cone, columns=wanted, row_limit=limit,
                            request=request)

    def query_filtered_count_async(self, *, coordinates=None, radius=None, cache=None,
                                   get_query_payload=False, **filters):
        """
        Count the files matching the filters without downloading them.

        Parameters
        ----------
        coordinates, radius : optional
            A cone, as in `query_filtered`; the positions of the candidates in the
            enclosing box are then fetched (two columns) and counted exactly.
        cache : bool, optional
            Use astroquery's cache.
        get_query_payload : bool, optional
            Return the Mashup request dict instead of querying.
        **filters
            As in `query_filtered`.

        Returns
        -------
        responses : list of `requests.Response`

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> NirspecMast.query_filtered_count(program=1345, get_query_payload=True)["params"]["columns"]
        'COUNT_BIG(*)'
        """
        columns_text, filter_list, cone, _ = self._prepare(
            ["targ_ra", "targ_dec"] if coordinates is not None else None,
            coordinates, radius, filters, cache=cache)
        if cone is None:
            columns_text = "COUNT_BIG(*)"
        request = payload.nirspec_request(columns_text, filter_list)
        if get_query_payload:
            return request
        responses = self._send(request, cache=cache, retrieve_all=cone is not None, as_tables=cone is not None)
        return ResponseList(responses, kind="count", cone=cone, request=request)

    def query_filtered_count(self, *, coordinates=None, radius=None, cache=None,
                             get_query_payload=False, **filters):
        """
        Count the files matching the filters without downloading them.

        Parameters are those of `query_filtered_count_async`.

        Returns
        -------
        count : int
            Or the request dict with ``get_query_payload=True``.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> n = NirspecMast.query_filtered_count(exp_type="NRS_MSASPEC", program="1345")  # doctest: +REMOTE_DATA
        """
        result = self.query_filtered_count_async(coordinates=coordinates, radius=radius, cache=cache,
                                                 get_query_payload=get_query_payload, **filters)
        if get_query_payload:
            return result
        return self._parse_result(result)

    def get_parameter_values_async(self, field, *, coordinates=None, radius=None, cache=None,
                                   get_query_payload=False, **filters):
        """
        Every distinct value of a field, with how many files have it.

        Parameters
        ----------
        field : str
            Any field of ``Mast.Jwst.Filtered.Nirspec`` (see `list_fields`).
        coordinates, radius : optional
            A cone, as in `query_filtered`.
        cache : bool, optional
            Use astroquery's cache.
        get_query_payload : bool, optional
            Return the Mashup request dict instead of querying.
        **filters
            As in `query_filtered`, to count within a selection.

        Returns
        -------
        responses : list of `requests.Response`

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> NirspecMast.get_parameter_values("grating", exp_type="NRS_FIXEDSLIT",
        ...                                  get_query_payload=True)["params"]["columns"]
        'grating'
        """
        name = _fields.get_field(field).name
        columns_text, filter_list, cone, _ = self._prepare(
            [name], coordinates, radius, filters, cache=cache)
        request = payload.nirspec_request(columns_text, filter_list)
        if get_query_payload:
            return request
        responses = self._send(request, cache=cache, as_tables=True)
        return ResponseList(responses, kind="values", field=name, cone=cone, request=request)

    def list_fields(self, match=None, *, refresh=False):
        """
        The fields of ``Mast.Jwst.Filtered.Nirspec``: name, type, unit and description.

        Parameters
        ----------
        match : str, optional
            Keep fields whose name or description contains this text (or matches
            this shell pattern), case-insensitively.
        refresh : bool, optional
            Read the live field list with one small request (``pagesize=1``), validate
            against it for the rest of this Python session, and return what changed
            against the shipped catalogue instead (columns ``name``, ``change``
            (``added``/``removed``), ``type``, ``unit``, ``description``).

        Returns
        -------
        fields : `~astropy.table.Table`

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> t = NirspecMast.list_fields()
        >>> t.colnames
        ['name', 'type', 'unit', 'description']
        >>> "grating" in t["name"]
        True
        """
        if refresh:
            request = payload.nirspec_request("*", [], payload.Paging(1, 1))
            responses = self._send(request, cache=False, retrieve_all=False)
            return _fields.use_live_fields(transport.reply_json(responses[0]).get("fields"))
        return _fields.fields_table(match)

    def resolve_object(self, name, *, cache=None):
        """
        Resolve an object name to ICRS coordinates with MAST's name-lookup service.

        Parameters
        ----------
        name : str
            An object name, e.g. ``"NGC 1068"``.
        cache : bool, optional
            Use astroquery's cache.

        Returns
        -------
        coord : `~astropy.coordinates.SkyCoord`

        Raises
        ------
        astroquery.exceptions.ResolverError
            When MAST cannot resolve the name.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> NirspecMast.resolve_object("NGC 1068")  # doctest: +REMOTE_DATA +IGNORE_OUTPUT
        <SkyCoord (ICRS): (ra, dec) in deg
            (40.66963, -0.01328)>
        """
        request = {"service": self.NAME_LOOKUP_SERVICE,
                   "params": {"input": name, "format": "json"},
                   "format": "json", "pagesize": 1, "page": 1}
        responses = self._send(request, cache=cache, retrieve_all=False,
                               is_complete=lambda result: ("resolvedCoordinate" in result
                                                           or result.get("status") == "COMPLETE"))
        result = transport.reply_json(responses[0])
        found = result.get("resolvedCoordinate") or result.get("data") or []
        found = [f for f in found if f.get("ra") is not None and f.get("decl") is not None]
        if not found:
            raise ResolverError(f'Could not resolve "{name}" to a sky position: MAST\'s name '
                                'lookup found nothing. Give coordinates as "ra dec" in degrees '
                                'or a SkyCoord instead.')
        return SkyCoord(found[0]["ra"] * u.deg, found[0]["decl"] * u.deg, frame="icrs")

    def check_duplicates_async(self, targets, *, rules=None, cache=None, get_query_payload=False):
        """
        Check planned NIRSpec targets against archived and planned observations.

        Every target row is validated first; then targets close on the sky are
        clustered into fields and each field is searched once in CAOM
        (``Mast.Caom.Filtered.Position``), which holds executed, exclusive-access
        and planned (``calib_level = -1``) observations. The rows found are grouped
        into observations and configurations with their total exposure time and
        judged under the JWST duplicate-observation rules
        (`~astroquery_nirspec.duplication.evaluate`).

        Parameters
        ----------
        targets : `~astropy.table.Table`, str, path-like or list of dict
            Columns ``name``, ``ra``, ``dec`` (deg; or a SkyCoord column ``coord``),
            ``aperture`` (MSA, IFU, S200A1, S200A2, S400A1, S1600A1, S200B1),
            ``grating``, ``filter`` and ``exposure_time`` (planned total, s);
            case-insensitive. A path is read with `~astropy.table.Table.read`.
        rules : `~astroquery_nirspec.duplication.DuplicationRules`, optional
            Radii and factors; default the JWST values.
        cache : bool, optional
            Use astroquery's cache.
        get_query_payload : bool, optional
            Return the list of requests (one per sky field) instead of querying.

        Returns
        -------
        responses : list of `requests.Response`
            Every page of every field's request.

        Raises
        ------
        astroquery.exceptions.InvalidQueryError
            For a bad target list, naming the column, row and accepted values, before
            any request.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> targets = [{"name": "SN1", "ra": 53.16, "dec": -27.79, "aperture": "S200A1",
        ...             "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}]
        >>> requests = NirspecMast.check_duplicates(targets, get_query_payload=True)
        >>> requests[0]["service"], requests[0]["params"]["position"]
        ('Mast.Caom.Filtered.Position', '53.16, -27.79, 0.075')
        """
        rules = DuplicationRules() if rules is None else rules
        if not isinstance(rules, DuplicationRules):
            raise InvalidQueryError(f"Invalid rules {rules!r}: give a DuplicationRules instance.")
        table = read_targets(targets)
        fields = _search.sky_fields(table, rules, pagesize=int(conf.pagesize))
        if get_query_payload:
            return fields.requests
        responses = ResponseList(kind="duplicates", targets=table, rules=rules, fields=fields,
                                 requests=fields.requests, labels=fields.labels)
        with progress_bar(len(fields), desc="sky fields", unit="field",
                          enabled=self._progress_enabled()) as bar:
            for pages in self._send_many(fields.requests, cache=cache,
                                         progress=lambda done: bar.update(1)):
                responses.extend(pages)
        return responses

    def check_duplicates(self, targets, *, rules=None, msa_sources=True, cache=None,
                         get_query_payload=False):
        """
        Check planned NIRSpec targets against archived and planned observations.

        As `check_duplicates_async`, then parsed into a report; with ``msa_sources``
        the executed MOS observations reached are also checked at the shutter: their
        MSA metadata files are found with one ``Mast.Jwst.Filtered.Nirspec`` request per
        sky field, each distinct file is downloaded once (kept in the astroquery cache
        folder), and the primary sources of open shutters near each target are compared
        (`~astroquery_nirspec.duplication.apply_source_evidence`).

        Parameters
        ----------
        targets, rules, cache, get_query_payload
            As in `check_duplicates_async`.
        msa_sources : bool, optional
            Read MSA metadata for source-level evidence (default True): one lookup per
            sky field with executed MOS observations, then each MSA file fetched once,
            ``conf.max_concurrent_pages`` at a time and read as it arrives. False gives
            the field-level answer only (one request per sky field).

        Returns
        -------
        report : `~astropy.table.Table`
            One row per (target, observation, configuration) judged; with
            ``msa_sources`` also ``source_observed``, ``source_separation`` and
            ``source_name``.

        Examples
        --------
        >>> from astroquery_nirspec import NirspecMast
        >>> report = NirspecMast.check_duplicates("examples/targets.ecsv")  # doctest: +REMOTE_DATA +SKIP
        """
        responses = self.check_duplicates_async(targets, rules=rules, cache=cache,
                                                get_query_payload=get_query_payload)
        if get_query_payload:
            return responses
        report = self._parse_result(responses)
        if msa_sources:
            def fetch(requests):
                return [transport.reply_json(r) for pages in self._send_many(requests, cache=cache)
                        for r in pages]
            report = add_source_evidence(report, responses.context["fields"], responses.context["rules"],
                                         fetch=fetch, download=self._download_msa_files,
                                         pagesize=int(conf.pagesize))
        return report

    def _send_many(self, requests, *, cache, progress=None):
        """Send independent requests (`transport.invoke_many`); the pages of each, in order."""
        return transport.invoke_many(self, requests, cache=self._cache_allowed(cache),
                                     headers=self._auth_headers(), progress=progress)

    def _download_msa_files(self, names, arrived):
        """
        Download MSA metadata files (into the cache folder), ``conf.max_concurrent_pages`` at once.

        ``arrived(name, path)`` is called in this thread for each file on disk, as soon as
        it is (in the order of ``names``), while the next ones download.
        """
        folder = Path(self.cache_location) / "msa_metadata"

        def on_row(index, row):
            path, status = row[0], row[1]
            if status in ("COMPLETE", "SKIPPED"):
                arrived(names[index], path)

        self._download_items([(f"mast:JWST/product/{n}", None, None) for n in names],
                             download_dir=folder, verbose=False,
                             workers=transport.max_concurrent(), on_row=on_row)

    # ------------------------------------------------------------------ parsing
    def _parse_result(self, responses, *, verbose=False):
        """Turn the page responses of a query into its result (`results.parse_result`)."""
        return parse_result(responses)


NirspecMast = NirspecMastClass()
