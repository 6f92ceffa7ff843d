"""The driver of a dfm worker's warm Python interpreter.

It runs the original DV Flow Manager's tasks (Python callables, and shell
steps with its data_io contract) one at a time, with dv-flow-mgr's own
code, as dv-flow-mgr's worker does (dv_flow.mgr.worker.execute_request,
1.20): the same request, the same callables, the same result.

One JSON object per line. The dfm worker writes {"params": {...}} (a
task.execute's params) on stdin; the driver answers on the descriptor that
was its stdout when it started, {"result": {...}, "cpu": [user, system]}
(the task's CPU seconds, its waited-for children's included) or
{"error": "..."}. What
tasks print, and what their commands print, goes to stderr, which the
worker keeps in its log.

Where dv-flow-mgr's worker gives a task a different answer than its
in-process runner would, the driver gives the in-process one:
- a Python task runs through ExecCallable, as in-process (dotted paths,
  `file.py::function` and inline bodies alike, std.Env inputs applied),
  with the body the client sent (its loader's `${{ srcdir }}` expanded)
  rather than callable_spec (the flow's text as written);
- the markers a task's context collects (`Command failed: ...`) are kept;
- a task that raises fails with in-process's "Task implementation raised an
  exception: ...";
- its environment is the worker's own overlaid with the one its client
  sent (dv-flow-mgr's worker ignores that);
- a shell step gets DFM_PARAM_<NAME> for each of its parameters.
dfm's worker runs most shell steps natively (worker/original_shell), the
same way; those it declines, and all of them when told to
(DFM_WORKER_ORIGINAL_SHELL_IN_PYTHON=1), come here.
And the dfm-out shim a shell step finds on its PATH runs dfm's native
dfm-out (DFM_OUT_NATIVE), which writes the same lines and hands anything it
does not do itself to dv_flow.mgr.out.
"""
import asyncio
import json
import os
import sys


def _answer(out, message):
    out.write(json.dumps(message) + "\n")
    out.flush()


def _add_to_path(pythonpath):
    # As execute_request does: each entry in front, unless already there.
    for entry in pythonpath or []:
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)


def _native_dfm_out(native):
    """Makes ShellCallable's dfm-out shim run `native` (dfm's dfm-out)."""
    from dv_flow.mgr import shell_callable

    package_root = os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(shell_callable.__file__))))

    def ensure_shim(rundir):
        bindir = os.path.join(rundir, ".dfm-bin")
        shim = os.path.join(bindir, "dfm-out")
        # Written beside it and renamed over it: whatever stands there (a
        # link, from an older dfm) is replaced, never written through.
        partial = "%s.%d" % (shim, os.getpid())
        try:
            os.makedirs(bindir, exist_ok=True)
            with open(partial, "w") as fp:
                fp.write(
                    "#!/bin/sh\n"
                    'PYTHONPATH="%s${PYTHONPATH:+%s$PYTHONPATH}"\n'
                    "export PYTHONPATH\n"
                    'DFM_OUT_PYTHON="%s" exec "%s" "$@"\n'
                    % (package_root, os.pathsep, sys.executable, native))
            os.chmod(partial, 0o755)
            os.replace(partial, shim)
        except OSError:
            return None
        return bindir

    shell_callable.ShellCallable._ensure_dfm_out_shim = staticmethod(ensure_shim)


def _run_ctxt_class():
    """TaskRunCtxt whose `env` is the task's own dict, as in-process (there
    it is the runner's environment; with no node context, dv-flow-mgr's
    worker gives os.environ, whose every change is a putenv)."""
    from dv_flow.mgr.task_run_ctxt import TaskRunCtxt

    class RunCtxt(TaskRunCtxt):
        task_env = None

        @property
        def env(self):
            return self.task_env

    return RunCtxt


class _Mgr:
    """dv-flow-mgr's names the driver uses, imported once (by _load): an
    import statement in _execute would cost each task a few microseconds."""
    worker = ExecCallable = ShellCallable = data_io = None
    TaskDataInput = TaskDataResult = TaskMarker = SeverityE = RunCtxt = None

    @classmethod
    def load(cls):
        from dv_flow.mgr import data_io, worker
        from dv_flow.mgr.exec_callable import ExecCallable
        from dv_flow.mgr.shell_callable import ShellCallable
        from dv_flow.mgr.task_data import TaskDataInput, TaskDataResult, TaskMarker, SeverityE
        cls.worker, cls.data_io = worker, data_io
        cls.ExecCallable, cls.ShellCallable = ExecCallable, ShellCallable
        cls.TaskDataInput, cls.TaskDataResult = TaskDataInput, TaskDataResult
        cls.TaskMarker, cls.SeverityE = TaskMarker, SeverityE
        cls.RunCtxt = _run_ctxt_class()


async def _execute(params, task_env):
    """execute_request of dv-flow-mgr 1.20, with in-process's answers."""
    mgr = _Mgr
    worker = mgr.worker
    name = params.get("name", "")
    _add_to_path(params.get("pythonpath"))
    rundir = params.get("rundir", "")
    srcdir = params.get("srcdir", "")
    if rundir:
        os.makedirs(rundir, exist_ok=True)
    shell = params.get("shell", "pytask")
    body = params.get("body")
    ctxt = None
    try:
        if shell == "pytask":
            # The body is the callable in-process runs (ExecCallable's, with
            # the loader's ${{ srcdir }} expanded); callable_spec is the
            # flow file's text as written.
            spec = body or params.get("callable_spec", "")
            if not spec:
                raise ValueError("pytask requires callable_spec")
            task = mgr.ExecCallable(body=spec, srcdir=srcdir, shell="pytask")
        else:
            if not body:
                raise ValueError("Shell task '%s' has no body" % name)
            task = mgr.ShellCallable(body=body, srcdir=srcdir, shell=shell)
        task_input = mgr.TaskDataInput(
            name=name,
            changed=True,
            srcdir=srcdir,
            rundir=rundir,
            params=worker._dict_to_ns(params.get("params", {})),
            inputs=[
                worker._dict_to_ns(item) if isinstance(item, dict) else item
                for item in params.get("inputs", [])
            ],
            memento=params.get("memento"),
        )
        ctxt = mgr.RunCtxt(runner=worker._WorkerRunnerShim(), ctxt=None, rundir=rundir)
        ctxt.task_env = dict(task_env)
        if shell != "pytask" and isinstance(params.get("params"), dict):
            # As in-process, where data_io sees the declared parameters
            # (dv-flow-mgr's worker hands it a namespace and sets none).
            for key, value in params["params"].items():
                ctxt.task_env["DFM_PARAM_%s" % key.upper()] = mgr.data_io._scalar_to_env(value)
        result = await task(ctxt, task_input)
        if result is None:
            result = mgr.TaskDataResult()
    except Exception as e:
        print("== Task threw exception ==", file=sys.stderr)
        result = mgr.TaskDataResult(
            status=1,
            changed=False,
            output=[],
            markers=[mgr.TaskMarker(
                msg="Task implementation raised an exception: %s" % str(e),
                severity=mgr.SeverityE.Error)],
            memento=None)
    if ctxt is not None:
        result.markers.extend(ctxt._markers)

    def plain(value):
        return value.model_dump(mode="json") if hasattr(value, "model_dump") else value

    return {
        "status": result.status,
        "changed": result.changed,
        "output": [plain(i) for i in result.output if hasattr(i, "model_dump") or isinstance(i, dict)],
        "markers": [plain(m) for m in result.markers if hasattr(m, "model_dump") or isinstance(m, dict)],
        "memento": plain(result.memento) if result.memento is not None else None,
    }


def _load(params, native_dfm_out):
    """dv-flow-mgr, imported with the task's pythonpath."""
    _add_to_path(params.get("pythonpath"))
    try:
        _Mgr.load()
        if native_dfm_out:
            _native_dfm_out(native_dfm_out)
        return _execute, None
    except Exception as e:
        return None, (
            "cannot import dv_flow.mgr (dv-flow-mgr) in %s (Python %s): %s: %s. "
            "It looked in: %s. Install dv-flow-mgr for this Python (pip install "
            "dv-flow-mgr), or set runner.python in the dfm configuration to a "
            "Python that has it."
            % (sys.executable, sys.version.split()[0], type(e).__name__, e,
               ", ".join(p for p in sys.path if p)))


class _Environ:
    """Sets os.environ to a task's environment: its base, overlaid with what
    its client sent. Only what differs is changed (each change is a
    putenv), and a task that changed os.environ itself is undone."""

    def __init__(self):
        self.target = None
        self.encoded = None

    def set(self, env):
        if env is not self.target:
            self.target = env
            self.encoded = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        data = getattr(os.environ, "_data", None)
        if data is not None and data == self.encoded:
            return
        for key in [k for k in os.environ if k not in env]:
            del os.environ[key]
        for key, value in env.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def main():
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # What tasks print must not mix with the answers.
    os.dup2(2, 1)
    native_dfm_out = os.environ.pop("DFM_OUT_NATIVE", "")
    # The worker's own environment, which each task's client's overlays
    # (this process started with its first task's).
    base_env = json.loads(os.environ.pop("DFM_DRIVER_BASE_ENV", "null") or "null")
    if not isinstance(base_env, dict):
        base_env = dict(os.environ)
    last_client_env, task_env = None, base_env
    environ = _Environ()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    execute = None
    for line in iter(sys.stdin.readline, ""):
        # The CPU of this task, its children's included, for dfm's
        # measurements (one times() call, where the worker would read /proc
        # twice).
        before = os.times()
        try:
            params = json.loads(line)["params"]
        except Exception as e:
            _answer(answers, {"error": "unreadable request: %s" % e})
            continue
        client_env = params.get("env") or {}
        if client_env != last_client_env:
            task_env = dict(base_env)
            task_env.update(client_env)
            last_client_env = client_env
        environ.set(task_env)
        if execute is None:
            execute, error = _load(params, native_dfm_out)
            if execute is None:
                _answer(answers, {"error": error})
                continue
        result = loop.run_until_complete(execute(params, task_env))
        after = os.times()
        cpu = [after.user - before.user + after.children_user - before.children_user,
               after.system - before.system + after.children_system - before.children_system]
        _answer(answers, {"result": result, "cpu": cpu})


if __name__ == "__main__":
    main()
