"""
Where the recorded MAST replies of ``shared/data`` are, if anywhere.

They lie beside the repository (``<repo>/../shared/data``), as in CI. In a git worktree
they lie beside the main checkout instead, which the worktree's ``.git`` file names.
Tests that need them are skipped when they are absent (`needs_shared`).
"""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _candidates():
    yield ROOT.parent / "shared" / "data"
    git = ROOT / ".git"
    if git.is_file():                      # "gitdir: <main>/.git/worktrees/<name>"
        text = git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.split(":", 1)[1].strip())
            if len(gitdir.parents) > 3:
                yield gitdir.parents[2].parent / "shared" / "data"


#: The ``shared/data`` folder, or None when it is not there.
SHARED_DATA = next((path for path in _candidates() if path.is_dir()), None)


def shared_file(relative):
    """The path of ``shared/data/<relative>``, or None when it is absent."""
    if SHARED_DATA is None or not (SHARED_DATA / relative).is_file():
        return None
    return SHARED_DATA / relative


def needs_shared(relative):
    """Skip a test when ``shared/data/<relative>`` is absent."""
    return pytest.mark.skipif(shared_file(relative) is None,
                              reason=f"shared/data/{relative} not found beside the repository")
