"""A pytest plugin that routes every TaskSetRunner the original dv-flow-mgr's
own unit tests make through a daemon, so that its test suite (written by
someone else, for in-process runs) becomes a differential corpus for daemons.

    DFM_CORPUS_DAEMON=ours    dfm's daemon (DFM_CORPUS_DFM: the dfm binary)
    DFM_CORPUS_DAEMON=theirs  the original's own daemon (python -m dv_flow.mgr)
    unset                     in-process, as the suite is written

DFM_CORPUS_OUTCOMES names a file to write each test's outcome to (JSON:
node id -> passed, failed, error or skipped).

Load it with `-p dfm_route` (this folder on PYTHONPATH). One daemon serves
the whole session, in a project folder of its own; each TaskSetRunner gets
its own DaemonClientBackend connection to it (a runner the test gave a
backend keeps it). Tests listed in excluded.txt beside this file (those that
fail in-process against the pinned dv-flow-mgr) are deselected.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MODE = os.environ.get("DFM_CORPUS_DAEMON", "")
POOL = os.environ.get("DFM_CORPUS_POOL", "2")


def _excluded():
    path = os.path.join(HERE, "excluded.txt")
    with open(path) as fp:
        return {line.split("#")[0].strip() for line in fp} - {""}


def _daemon_command(*args):
    if MODE == "ours":
        return [os.environ["DFM_CORPUS_DFM"], "daemon", *args]
    return [sys.executable, "-m", "dv_flow.mgr", "daemon", *args]


class _Daemon:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="dfm-corpus-%s-" % MODE)
        started = subprocess.run(
            _daemon_command("start", "--pool-size", POOL),
            cwd=self.root, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if started.returncode != 0:
            raise RuntimeError("cannot start the %s daemon: %s%s"
                               % (MODE, started.stdout, started.stderr))
        state = os.path.join(self.root, ".dfm", "daemon.json")
        socket = os.path.join(self.root, ".dfm", "daemon.sock")
        deadline = time.monotonic() + 60
        while not (os.path.exists(state) and os.path.exists(socket)):
            if time.monotonic() > deadline:
                raise RuntimeError("the %s daemon did not come up in %s" % (MODE, self.root))
            time.sleep(0.05)

    def stop(self):
        subprocess.run(_daemon_command("stop"), cwd=self.root, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)
        shutil.rmtree(self.root, ignore_errors=True)


_daemon = None
_outcomes = {}


def pytest_configure(config):
    global _daemon
    if MODE not in ("", "ours", "theirs"):
        raise pytest.UsageError("DFM_CORPUS_DAEMON must be ours, theirs or unset")
    if not MODE:
        return
    _daemon = _Daemon()
    from dv_flow.mgr.daemon_client import DaemonClientBackend
    from dv_flow.mgr.task_runner import TaskSetRunner

    post_init = TaskSetRunner.__post_init__
    root = _daemon.root

    def routed(self):
        post_init(self)
        if self.backend is None:
            self.backend = DaemonClientBackend(root)

    TaskSetRunner.__post_init__ = routed


def pytest_unconfigure(config):
    global _daemon
    if _daemon is not None:
        _daemon.stop()
        _daemon = None
_outcomes = {}


def pytest_collection_modifyitems(config, items):
    excluded = _excluded()
    kept, dropped = [], []
    for item in items:
        (dropped if item.nodeid in excluded else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        if report.skipped:
            outcome = "skipped"
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
        else:
            outcome = "passed"
        # A failure in setup or teardown outweighs the call's pass.
        if _outcomes.get(report.nodeid) not in ("failed", "error"):
            _outcomes[report.nodeid] = outcome


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("DFM_CORPUS_OUTCOMES")
    if path:
        import json
        with open(path, "w") as fp:
            json.dump(dict(sorted(_outcomes.items())), fp, indent=1)
            fp.write("\n")
