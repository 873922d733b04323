"""
Duplicate check: 1 000 planned targets in 20 sky fields against CAOM, through the local
MAST server (own process) answering every request after 100 ms, by

- this package: ``NirspecMast.check_duplicates(targets)`` (one ``Mast.Caom.Filtered.Position``
  request per sky field, then the rules on the client);
- the notebook's method: a loop over the targets with two astroquery
  ``Observations.query_criteria`` cone searches each (NIRSpec observations within the
  target's duplication radius; MSA observations within the MOS cross-check radius), then
  the same rules on each target's rows. Its requests and time grow linearly with the
  number of targets, so it is run on every 10th target and scaled to the whole list
  (the measured numbers are shown too).
"""
import warnings

import numpy as np

from common import add_paths, astroquery_client, main, fmt_seconds, median, print_table, timed_rounds

add_paths()

import astropy.units as u  # noqa: E402
from astropy.coordinates import SkyCoord  # noqa: E402
from astropy.table import Table, vstack  # noqa: E402
from astroquery.mast import ObservationsClass  # noqa: E402

from astroquery_nirspec import NirspecMastClass, conf  # noqa: E402
from astroquery_nirspec.duplication import (APERTURE_MODE, DUPLICATION_RADII,  # noqa: E402
                                            GRATING_FILTER_PAIRS, MSA_CROSS_RADIUS, evaluate)
from serve import ServerProcess  # noqa: E402

LATENCY = 0.1
TARGET_REQUESTS = 40          # a CAOM request and an MSA lookup per field
TARGET_SECONDS = 4.0
TARGET_SPEEDUP = 60.0
_INSTRUMENT = {"MOS": "NIRSPEC/MSA", "IFU": "NIRSPEC/IFU", "FS": "NIRSPEC/SLIT"}


def print_targets(checks):
    """Print ``(target, measured, met)`` rows as the "Targets" table; ``{target: met}``."""
    print_table("Targets", ("target", "measured", "met"),
                [(name, value, "yes" if ok else "NO") for name, value, ok in checks])
    return {name: ok for name, _, ok in checks}


def make_targets(n_fields=20, per_field=50, seed=3):
    """``n_fields`` random sky fields, each with ``per_field`` targets within 4 arcmin."""
    rng = np.random.default_rng(seed)
    apertures = list(DUPLICATION_RADII)
    rows = []
    width = max(2, len(str(n_fields - 1)))
    for field in range(n_fields):
        ra0, dec0 = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-0.9, 0.9)))
        center = SkyCoord(ra0 * u.deg, dec0 * u.deg)
        offsets = center.directional_offset_by(rng.uniform(0, 360, per_field) * u.deg,
                                               4 * u.arcmin * np.sqrt(rng.random(per_field)))
        for k, (ra, dec) in enumerate(zip(offsets.ra.deg.tolist(), offsets.dec.deg.tolist())):
            grating, filt = GRATING_FILTER_PAIRS[int(rng.integers(0, len(GRATING_FILTER_PAIRS)))]
            rows.append((f"F{field:0{width}d}-T{k:03d}", ra, dec,
                         apertures[int(rng.integers(0, len(apertures)))], grating, filt,
                         float(rng.uniform(500, 5000))))
    return Table(rows=rows, names=["name", "ra", "dec", "aperture", "grating", "filter", "exposure_time"])


def make_caom(targets, per_field=60, duplicate_fraction=0.1, seed=4, spread_deg=0.08):
    """Archived and planned NIRSpec observations around every field, some of them duplicates."""
    import mast_double

    rng = np.random.default_rng(seed)
    rows = []
    fields, field_of = np.unique([name.split("-")[0] for name in targets["name"]], return_inverse=True)
    counts = np.bincount(field_of)
    ra_mean = np.bincount(field_of, weights=np.asarray(targets["ra"])) / counts
    dec_mean = np.bincount(field_of, weights=np.asarray(targets["dec"])) / counts
    for index in range(len(fields)):
        center = (float(ra_mean[index]), float(dec_mean[index]))
        rows += mast_double.make_caom_rows(per_field, seed=seed + index, center=center, spread_deg=spread_deg)
    for target in targets[rng.random(len(targets)) < duplicate_fraction]:
        mode = APERTURE_MODE[target["aperture"]]
        rows.append(mast_double.caom_row(
            s_ra=float(target["ra"]) + 1e-5, s_dec=float(target["dec"]), calib_level=3,
            filters=f"{target['filter']};{target['grating']}", instrument_name=_INSTRUMENT[mode],
            t_exptime=float(target["exposure_time"]) * 1.2,
            proposal_id=str(int(rng.integers(1000, 9999)))))
    for number, row in enumerate(rows):                  # CAOM ids are unique
        row["obsid"] = 500_000_000 + number
        row["objID"] = row["objID1"] = 600_000_000 + number
    return rows


def run_ours(url, targets):
    with conf.set_temp("server", url), conf.set_temp("progress", False):
        return NirspecMastClass().check_duplicates(targets, cache=False)


def run_notebook(client, targets):
    """Two cone searches per target, then the rules on that target's rows."""
    reports = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # NoResultsWarning for empty cones
        for target in targets:
            coord = SkyCoord(target["ra"] * u.deg, target["dec"] * u.deg)
            radius = 1.5 * DUPLICATION_RADII[target["aperture"]]
            found = [client.query_criteria(coordinates=coord, radius=radius, obs_collection="JWST",
                                           instrument_name="NIRSPEC*"),
                     client.query_criteria(coordinates=coord, radius=1.5 * MSA_CROSS_RADIUS,
                                           obs_collection="JWST", instrument_name="NIRSPEC/MSA")]
            found = [t for t in found if len(t)]
            rows = vstack(found, metadata_conflicts="silent") if found else None
            if rows is None:
                rows = Table(names=["obs_id", "instrument_name", "filters", "t_exptime", "s_ra", "s_dec",
                                    "calib_level"], dtype=[str, str, str, float, float, float, int])
            reports.append(evaluate(Table(target), rows))
    return vstack(reports, metadata_conflicts="silent")


def run(n_fields=20, per_field=50, sample_every=10, rounds=3, quick=False):
    if quick:
        n_fields, per_field, sample_every, rounds = 4, 10, 10, 1
    targets = make_targets(n_fields, per_field)
    sample = targets[::sample_every]
    caom = make_caom(targets)
    print(f"\n## Duplicate check: {len(targets)} targets in {n_fields} sky fields, {len(caom)} CAOM rows, "
          f"server latency {LATENCY * 1000:.0f} ms")
    results = {"targets": len(targets), "fields": n_fields, "caom_rows": len(caom), "latency": LATENCY}
    with ServerProcess({"kind": "caom", "rows": caom, "latency": LATENCY}) as server:
        client = astroquery_client(ObservationsClass, server.url)
        # requests of one run of each
        server.clear()
        report = run_ours(server.url, targets)
        ours_requests = server.requests()
        server.clear()
        notebook = run_notebook(client, sample)
        notebook_requests = server.requests()            # includes astroquery's columns config
        # both find the same verdicts for the sample's targets
        mine = report[np.isin(report["target"], sample["name"])]
        for verdict in ("DUPLICATE", "POSSIBLE"):
            assert sorted(mine["target"][mine["verdict"] == verdict]) == \
                sorted(notebook["target"][notebook["verdict"] == verdict]), verdict
        results["duplicates_found"] = int(np.sum(report["verdict"] == "DUPLICATE"))
        client = astroquery_client(ObservationsClass, server.url)         # a fresh client: columns config again
        times = timed_rounds({"ours": lambda: run_ours(server.url, targets),
                              "notebook": lambda: run_notebook(client, sample)},
                             {"ours": rounds, "notebook": 1})

    t_ours, t_sample = median(times["ours"]), median(times["notebook"])
    scale = len(targets) / len(sample)
    t_notebook = t_sample * scale
    # the columns config is fetched once per client, not per target
    notebook_total = round((notebook_requests - 1) * scale) + 1
    results.update(ours_requests=ours_requests, ours_seconds=t_ours, notebook_sample=len(sample),
                   notebook_sample_requests=notebook_requests, notebook_sample_seconds=t_sample,
                   notebook_requests=notebook_total, notebook_seconds=t_notebook,
                   speedup=t_notebook / t_ours, times={k: sorted(v) for k, v in times.items()})
    print_table("Requests and wall time (median of rounds)",
                ("method", "targets run", "requests", "wall time", f"requests ({len(targets)} targets)",
                 f"wall time ({len(targets)} targets)"),
                [("astroquery_nirspec check_duplicates", len(targets), ours_requests, fmt_seconds(t_ours),
                  ours_requests, fmt_seconds(t_ours)),
                 ("notebook: 2 query_criteria per target", len(sample), notebook_requests,
                  fmt_seconds(t_sample), f"{notebook_total} (scaled)",
                  f"{fmt_seconds(t_notebook)} (scaled)")])
    checks = [(f"<= {TARGET_REQUESTS} requests", f"{ours_requests}", ours_requests <= TARGET_REQUESTS),
              (f"<= {TARGET_SECONDS:g} s", fmt_seconds(t_ours), t_ours <= TARGET_SECONDS),
              (f">= {TARGET_SPEEDUP:g}x faster than the notebook's method", f"{results['speedup']:.1f}x",
               results["speedup"] >= TARGET_SPEEDUP)]
    results["targets_met"] = print_targets(checks)
    print(f"\n{results['duplicates_found']} DUPLICATE rows found; the verdicts of the sampled targets "
          "agree between the two methods.")
    return results


if __name__ == "__main__":
    main(run)
