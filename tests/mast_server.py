"""Former home of the local MAST server, kept while other branches import it: use `mast_double`."""
from mast_double import *  # noqa: F401,F403
from mast_double import __all__  # noqa: F401
