"""
The local MAST server (``tests/mast_double/``) in its own process, for the benchmarks.

Run by `ServerProcess`: the server and the client under test then use separate
interpreters (and cores), as with the real service, and the client's timings do not
include the server's Python work competing for the same GIL.

Protocol on stdin/stdout, one line each: the process prints ``READY <url>``; then it
answers ``count`` (invoke requests so far; ``count caom``, ``count nirspec``, ``count download``
for one kind), ``log`` (all requests so far: invoke and
columns config), ``clear`` and ``quit``.
"""
import json
import subprocess
import sys
import time

from common import ROOT, add_paths

__all__ = ["ServerProcess"]


def _archive(spec):
    add_paths()
    import mast_double

    if spec["kind"] == "nirspec":
        return mast_double.make_archive(n_nirspec=spec["rows"], seed=spec.get("seed", 1))
    if spec["kind"] == "caom":
        return mast_double.make_archive(caom_rows=spec["rows"])
    raise ValueError(spec["kind"])


def _archive_and_files(spec):
    """The archive and the files it serves (``{uri: path}``)."""
    if spec["kind"] == "scale":
        from bench_scale import scale_archive

        return scale_archive(spec)
    return _archive(spec), {}


def main():
    spec = json.loads(sys.stdin.readline())
    add_paths()
    import mast_double

    archive, files = _archive_and_files(spec)
    server = mast_double.MastServer(archive, latency=spec.get("latency", 0.0))
    for uri, path in files.items():
        server.add_file(uri, open(path, "rb").read())
    server.start()
    print("READY", server.url, flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "count":
                print(server.count(), flush=True)
            elif command.startswith("count "):
                print(_count(server, command.split()[1]), flush=True)
            elif command == "log":
                print(len(server.log), flush=True)
            elif command == "clear":
                server.clear_log()
                print("ok", flush=True)
            elif command == "quit":
                break
    finally:
        server.stop()


def _count(server, what):
    """Requests of one kind so far: ``caom`` or ``nirspec`` invokes, or ``download``."""
    import mast_double

    if what == "download":
        return sum(server.download_counts().values())
    return server.count({"caom": mast_double.CAOM_POSITION_SERVICE,
                         "nirspec": mast_double.NIRSPEC_SERVICE}[what])


class ServerProcess:
    """
    Start the server in a child process; use as a context manager.

    Parameters
    ----------
    spec : dict
        ``{"kind": "nirspec", "rows": 100000, "seed": 1}`` (generated NIRSpec rows) or
        ``{"kind": "caom", "rows": [row dicts]}`` or ``{"kind": "scale", ...}`` (the archive and
        MSA files of `bench_scale.scale_archive`); optional ``"latency"`` in seconds.
    """

    def __init__(self, spec):
        self.spec = spec
        self.process = None
        self.url = None

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.process.stdin.write(json.dumps(self.spec) + "\n")
        self.process.stdin.flush()
        start = time.monotonic()
        line = self.process.stdout.readline().split()
        if not line or line[0] != "READY":
            self.__exit__()
            raise RuntimeError("The benchmark MAST server did not start.")
        self.url = line[1]
        self.startup = time.monotonic() - start
        return self

    def ask(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def count(self, what=None):
        """Invoke requests received so far (``what``: only ``caom``, ``nirspec`` or ``download``)."""
        return int(self.ask("count" if what is None else f"count {what}"))

    def requests(self):
        """Every request received so far (invoke and columns config)."""
        return int(self.ask("log"))

    def clear(self):
        self.ask("clear")

    def __exit__(self, *exc):
        if self.process is None:
            return
        try:
            if self.process.poll() is None:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            for stream in (self.process.stdin, self.process.stdout):
                if stream:
                    stream.close()
            self.process = None


if __name__ == "__main__":
    main()
