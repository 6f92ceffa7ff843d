"""Runs shell tasks through a dfm daemon with the original dv-flow-mgr client."""
import asyncio, os, sys
from dv_flow.mgr.daemon_client import DaemonClientBackend
from dv_flow.mgr.runner_backend import TaskExecRequest
import dv_flow.mgr.task_exec_serialize as serialize

# What the daemon's replies held, as the client hands them to its own
# reader: dfm's measurements ride along, and the client reads the rest.
handed = []
_deserialize = serialize.deserialize_result
def recording(result_data):
    handed.append(result_data)
    return _deserialize(result_data)
serialize.deserialize_result = recording

async def main(root):
    backend = DaemonClientBackend.discover(root)
    assert backend is not None, "no daemon discovered"
    await backend.start()
    # As its `dfm run` fills them (task_exec_serialize.py): pythonpath is the
    # project, then the client's sys.path, which tells the worker's Python.
    pythonpath = [root] + [p for p in sys.path if p and p != root]
    reqs = [TaskExecRequest(name=f"up.t{i}", shell="bash", body=f"echo hi {i} > out.txt; exit {i % 2}",
                            srcdir=root, rundir=os.path.join(root, "rundir", f"t{i}"),
                            pythonpath=pythonpath) for i in range(4)]
    results = await asyncio.gather(*(backend.execute_task(r) for r in reqs))
    for i, r in enumerate(results):
        print(f"t{i} status={r.status}")
        assert r.status == i % 2, r
        assert open(os.path.join(root, "rundir", f"t{i}", "out.txt")).read() == f"hi {i}\n"
    assert len(handed) == 4 and all("worker_id" in h.get("measurements", {}) for h in handed), handed
    await backend.stop()
    print("upstream client OK")

asyncio.run(main(sys.argv[1]))
