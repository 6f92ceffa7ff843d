"""Drives a daemon with the original dv-flow-mgr's own client, for dfm-bench.

usage: python original_client.py ROOT KIND ROUND_TRIPS TASKS IN_FLIGHT

KIND is `pytask` (a trivial Python callable, bench_tasks.Trivial in ROOT),
`shell` (a shell step whose body is one `dfm-out env` call) or `plain` (a
shell step whose body is `true`). The requests are
what the original's `dfm run` sends (task_exec_serialize.py): the project
then the client's sys.path as pythonpath, the client's environment. Prints
one JSON line: the round trips (seconds, one task in flight), the rate
(tasks/s with IN_FLIGHT in flight), this client's CPU per task while at
that rate, and how many tasks it ran in all.
"""
import asyncio
import json
import os
import sys
import time

from dv_flow.mgr.daemon_client import DaemonClientBackend
from dv_flow.mgr.runner_backend import TaskExecRequest


def request(root, kind, seq):
    common = dict(
        name="bench.t%d" % seq,
        srcdir=root,
        rundir=os.path.join(root, "rundir", "t%d" % seq),
        pythonpath=[root] + [p for p in sys.path if p and p != root],
        env=dict(os.environ),
    )
    if kind == "pytask":
        return TaskExecRequest(callable_spec="bench_tasks.Trivial", shell="pytask",
                               body=None, **common)
    body = "true" if kind == "plain" else "dfm-out env N=%d" % seq
    return TaskExecRequest(callable_spec="", shell="bash", body=body, **common)


async def main(root, kind, round_trips, tasks, in_flight):
    backend = DaemonClientBackend.discover(root)
    if backend is None:
        sys.exit("no daemon in %s" % root)
    await backend.start()
    seq = 0

    async def one():
        nonlocal seq
        seq += 1
        result = await backend.execute_task(request(root, kind, seq))
        if result.status != 0:
            sys.exit("a task failed: %r" % result)
        if kind == "shell" and len(result.output) != 1:
            sys.exit("a shell step gave no env item: %r" % result)

    # Every worker and its interpreter started before anything is timed.
    await asyncio.gather(*(one() for _ in range(in_flight)))
    times = []
    for _ in range(round_trips):
        started = time.perf_counter()
        await one()
        times.append(time.perf_counter() - started)
    gate = asyncio.Semaphore(in_flight)

    async def gated():
        async with gate:
            await one()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(gated() for _ in range(tasks)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await backend.stop()
    print(json.dumps({"round_trips": times, "rate": tasks / elapsed,
                      "client_cpu_per_task": cpu / tasks, "tasks": seq}))


if __name__ == "__main__":
    root, kind = sys.argv[1], sys.argv[2]
    asyncio.run(main(root, kind, *(int(a) for a in sys.argv[3:6])))
