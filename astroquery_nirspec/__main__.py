"""``python -m astroquery_nirspec``: the ``nirspec-mast`` command line."""
import sys

from .cli import main

if __name__ == "__main__":  # pragma: no branch
    sys.exit(main())
