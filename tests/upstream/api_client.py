"""A client built on the original dv-flow-mgr's API, as a site script writes
it: DaemonClientBackend and TaskExecRequest with only name, shell, body,
rundir and srcdir filled; pythonpath and env as the dataclass defaults them
(empty). Prints each result and the files each step left, one line each."""
import asyncio, json, os, sys
from dv_flow.mgr.daemon_client import DaemonClientBackend
from dv_flow.mgr.runner_backend import TaskExecRequest

STEPS = [
    ("up.one", "echo hi > out.txt"),
    ("up.multi", "dfm-out fileset --filetype verilogSource a.v\n"
                 "dfm-out env SIM=ivl\n"
                 "echo \"param: ${DFM_PARAM_X:-unset} task: $DFM_TASK_NAME\" > seen.txt"),
    ("up.fails", "echo broken >&2; exit 2"),
]


def plain(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return {k: plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


async def main(root):
    backend = DaemonClientBackend.discover(root)
    assert backend is not None, "no daemon discovered"
    await backend.start()
    requests = [TaskExecRequest(name=name, shell="bash", body=body, srcdir=root,
                                rundir=os.path.join(root, "rundir", name))
                for name, body in STEPS]
    results = await asyncio.gather(*(backend.execute_task(r) for r in requests))
    for (name, _), result in zip(STEPS, results):
        print("%s status=%s" % (name, result.status))
        print("%s result=%s" % (name, json.dumps(plain(result), sort_keys=True)))
        rundir = os.path.join(root, "rundir", name)
        for file in sorted(os.listdir(rundir)):
            path = os.path.join(rundir, file)
            if os.path.isfile(path):
                with open(path, errors="replace") as fp:
                    print("%s %s=%s" % (name, file, json.dumps(fp.read())))
    await backend.stop()


asyncio.run(main(sys.argv[1]))
