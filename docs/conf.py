"""Sphinx configuration for astroquery_nirspec (builds offline)."""
from importlib.metadata import version as _version

from sphinx_astropy.conf.v1 import *  # noqa: F401,F403

project = "astroquery_nirspec"
author = "astroquery_nirspec developers"
copyright = "2026, " + author
release = _version("astroquery_nirspec")
version = release

# No network at build time: no intersphinx inventories are fetched.
intersphinx_mapping = {}
extensions = [e for e in extensions if e != "sphinx.ext.intersphinx"]  # noqa: F405

nitpicky = True
nitpick_ignore = [
    ("py:class", "requests.Response"),
    ("py:class", "requests.models.Response"),
    ("py:obj", "requests.Response"),
    ("py:class", "astroquery.query.BaseQuery"),
    ("py:obj", "astroquery.query.BaseQuery._request"),
    ("py:obj", "astroquery.utils.commons"),
    ("py:class", "optional"),
]
nitpick_ignore_regex = [
    # Without intersphinx (no network at build time) references outside this package
    # cannot resolve; references inside it are still checked.
    (r"py:.*", r"(?!astroquery_nirspec)[A-Za-z_].*"),
    (r"py:.*", r"astropy\..*"),
    (r"py:.*", r"astroquery\..*"),
    (r"py:.*", r"numpy\..*"),
]
html_theme = "alabaster"
html_static_path = []
exclude_patterns = ["_build"]
