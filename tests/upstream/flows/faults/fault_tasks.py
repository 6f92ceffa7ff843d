"""Python tasks for the lifecycle tests; each leaves its pids in its rundir."""
import asyncio
import json
import os
import signal
import sys

from dv_flow.mgr import TaskDataResult, TaskMarker, SeverityE


def _note(rundir, name, value):
    with open(os.path.join(rundir, name), "w") as fp:
        fp.write(str(value))


async def Hang(ctxt, input):
    """Waits on a child that would outlive any test (sleep 3141)."""
    child = await asyncio.create_subprocess_exec("sleep", "3141")
    _note(input.rundir, "interpreter.pid", os.getpid())
    _note(input.rundir, "child.pid", child.pid)
    await child.wait()
    return TaskDataResult(status=0)


async def Crash(ctxt, input):
    """Says its last words on stderr, then its interpreter is killed."""
    _note(input.rundir, "interpreter.pid", os.getpid())
    sys.stderr.write("fault_tasks: about to be killed\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


async def Probe(ctxt, input):
    """Records the interpreter's pid and the environment the task sees."""
    _note(input.rundir, "interpreter.pid", os.getpid())
    _note(input.rundir, "environ.json", json.dumps(dict(os.environ)))
    return TaskDataResult(
        status=0,
        markers=[TaskMarker(msg="probed by %d" % os.getpid(),
                            severity=SeverityE.Info)])
