"""Tests of astroquery_nirspec.progress: when a bar is drawn, and what the page reporter shows."""
import io
import sys

import pytest

from astroquery_nirspec import progress
from astroquery_nirspec.progress import page_reporter, progress_bar
from astroquery_nirspec.transport import PageProgress


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


def _run_pages(bar, pages=3, rows_per_page=10):
    report = page_reporter(bar)
    for page in range(1, pages + 1):
        report(PageProgress(page, pages, min(page * rows_per_page, 25), 25))


def test_silent_when_stderr_is_not_a_terminal(capsys):
    with progress_bar(desc="query", enabled=None) as bar:
        _run_pages(bar)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert bar.n == 3 and bar.total == 3  # it still counts


def test_silent_when_disabled_even_on_a_terminal(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(desc="query", enabled=False) as bar:
        _run_pages(bar)
    assert terminal.getvalue() == ""


@pytest.mark.skipif(progress._tqdm is None, reason="tqdm is not installed")
def test_forced_output_with_tqdm(capsys):
    with progress_bar(desc="Mast.Jwst.Filtered.Nirspec", enabled=True) as bar:
        _run_pages(bar)
    out, err = capsys.readouterr()
    assert out == ""  # never on stdout, which may hold a table
    assert "Mast.Jwst.Filtered.Nirspec" in err
    assert "3/3" in err
    assert "page 3/3, rows 25/25" in err


@pytest.mark.skipif(progress._tqdm is None, reason="tqdm is not installed")
def test_auto_draws_on_a_terminal(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(desc="query") as bar:
        _run_pages(bar)
    assert "page 3/3" in terminal.getvalue()


def test_astropy_fallback_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "_tqdm", None)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(desc="query", enabled=True) as bar:
        _run_pages(bar, pages=4)
    text = terminal.getvalue()
    assert "4 /  4" in text or "4 / 4" in text
    assert "100.00%" in text


def test_astropy_fallback_without_a_total_yet(monkeypatch):
    monkeypatch.setattr(progress, "_tqdm", None)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(desc="query", enabled=True) as bar:
        assert terminal.getvalue() == ""   # nothing to draw until the total is known
        bar.set_total(2)
        bar.update()
        bar.update()
    assert "100.00%" in terminal.getvalue()


def test_astropy_fallback_is_silent_off_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_tqdm", None)
    with progress_bar(2, desc="query", enabled=True) as bar:
        bar.update(2)
    assert capsys.readouterr().err == ""   # astropy's bar draws only on a terminal


@pytest.mark.parametrize("tqdm_installed", [True, False])
def test_bar_closes_on_error(monkeypatch, tqdm_installed, capsys):
    if not tqdm_installed:
        monkeypatch.setattr(progress, "_tqdm", None)
    elif progress._tqdm is None:
        pytest.skip("tqdm is not installed")
    with pytest.raises(RuntimeError, match="boom"):
        with progress_bar(5, desc="query", enabled=True) as bar:
            bar.update(1)
            raise RuntimeError("boom")
    assert bar.n == 1


def test_page_reporter_follows_the_50000_row_cap():
    # The server announced one page of 120 000 rows but sends at most 50 000 per page.
    with progress_bar(desc="q", enabled=False) as bar:
        report = page_reporter(bar)
        report(PageProgress(1, 1, 50000, 120000))
        assert (bar.n, bar.total) == (1, 3)
        report(PageProgress(2, 1, 100000, 120000))
        report(PageProgress(3, 1, 120000, 120000))
    assert (bar.n, bar.total) == (3, 3)
    assert bar.postfix == "page 3/3, rows 120000/120000"


def test_page_reporter_without_rows_filtered():
    with progress_bar(desc="q", enabled=False) as bar:
        report = page_reporter(bar)
        report(PageProgress(1, 2, 7, None))
    assert (bar.n, bar.total, bar.postfix) == (1, 2, "page 1/2, rows 7")


def test_update_and_set_total():
    with progress_bar(desc="q", unit="row", enabled=False) as bar:
        assert bar.total is None
        bar.update(5)
        bar.set_total(10)
        bar.update(0, note="x")
    assert (bar.n, bar.total, bar.postfix) == (5, 10, "note x")
