#!/usr/bin/env python3
"""Writes the named seed inputs into fuzz/corpus/<target>/: real protocol
lines (from dfm-host/src/protocol.rs and tests/), the example and test flow
files, and inputs that once crashed or broke a property. Run from fuzz/."""
import re

def w(target, name, data):
    with open(f"corpus/{target}/{name}", "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)

client = {
    "seed_submit_original": '{"method": "task.submit", "id": "ab12", "params": {"request_id": "ab12", "name": "demo.build", "callable_spec": "", "shell": "bash", "body": "echo hi", "srcdir": "/src", "rundir": "/run/demo.build", "pythonpath": [], "params": {}, "inputs": [], "env": {"A": "1"}, "resource_class": ""}}',
    "seed_submit_resources": '{"method":"task.submit","id":7,"params":{"request_id":"r1","name":"t","shell":"sh","body":"true","rundir":"/tmp/x","resource_class":"large","resources":{"cores":8,"memory":"4G","queue":"normal","walltime":"1:00"},"extra":1.5}}',
    "seed_ping": '{"method":"ping","id":"1","params":{}}',
    "seed_cancel": '{"method":"task.cancel","id":2,"params":{"request_id":"r1"}}',
    "seed_status": '{"method":"status.get","id":null}',
    "seed_subscribe": '{"method":"monitor.subscribe","id":[1,{"a":true}],"params":null}',
    "seed_shutdown": '{"method":"shutdown","id":-3.25e10,"params":{}}',
    "seed_bad_json": '{nope',
    "seed_bad_params": '{"id": 1, "method": "ping", "params": 3}',
    "seed_bad_shell": '{"id": 1, "method": "task.submit", "params": {"request_id": "r", "name": "t", "rundir": "/x", "shell": "pytask"}}',
    # serde_json reads 4444444444444444.5 back as 4444444444444445.0: floats
    # in pass-through fields drift by an ULP (the target allows that).
    "regress_float_drift": '{"method":"task.submit","id":4444444444444444.5,"params":{"request_id":"r","name":"t","rundir":"/r","x":[4444444444444444.5]}}',
}
worker = {
    "seed_register": '{"method":"worker.register","params":{"worker_id":"w1","hostname":"h","pid":42,"resource_class":"large","job_id":"123","lsf_job_id":"123","auth":"abcd","nonce":"ef01"}}',
    "seed_result": '{"method":"task.result","params":{"request_id":"r1","status":0,"changed":true,"output":[{"type":"std.FileSet","files":["a"]}],"markers":[{"msg":"oops","severity":"warning"}],"memento":{"k":1}}}',
    "seed_heartbeat": '{"method":"worker.heartbeat","params":{"worker_id":"w"}}',
    "seed_challenge": '{"method":"auth.challenge","params":{"nonce":"abc"}}',
    "seed_registered": '{"method":"worker.registered","params":{"auth":"x","heartbeat_interval_ms":5000}}',
    "seed_rejected": '{"method":"worker.rejected","params":{"reason":"bad auth"}}',
    "seed_execute": '{"method":"task.execute","params":{"request_id":"r1","name":"t","shell":"bash","body":"echo hi","srcdir":"/s","rundir":"/r","env":{"A":"1"}}}',
    "seed_cancel": '{"method":"task.cancel","params":{"request_id":"r"}}',
    "seed_shutdown": '{"method":"worker.shutdown","params":{}}',
    "seed_reply_result": '{"id":"1","result":{"pid":1,"runner":"local"}}',
    "seed_reply_error": '{"id":2,"error":"Unknown method: x.y"}',
    "seed_event": '{"method":"monitor.snapshot","params":{"workers":[]}}',
    # First byte: how many chunk sizes follow (bit 7 of a size: Pending first).
    "seed_frames": b'\x03\x02\x85\x01{"method":"worker.heartbeat","params":{"worker_id":"w"}}\n\n{"id":1,"result":null}\nno newline at end',
    "regress_float_drift": '{"method":"task.execute","params":{"request_id":"r","name":"t","rundir":"/r","x":[4444444444444444.5]}}',
}
for k, v in client.items():
    w("client_request", k, v)
for k, v in worker.items():
    w("worker_protocol", k, v)

w("flow_parse", "seed_regression.dv", open("../examples/regression/flow.dv").read())
src = open("../dfm-host/src/flow/tests.rs").read()
demo = src.split('const DEMO: &str = r#"')[1].split('"#;')[0]
w("flow_parse", "seed_demo.dv", demo)
w("flow_parse", "seed_demo_overrides.dv", "#-D seed=42\n#-D mode=slow\n#-D test.extra=-q\n" + demo)
cases = src.split("let cases = [")[1].split("];")[0]
for i, lit in enumerate(re.findall(r'\(\s*"((?:[^"\\]|\\.)*)",', cases)):
    w("flow_parse", f"seed_err{i:02}.dv", lit.encode().decode("unicode_escape"))
w("flow_parse", "seed_expr.txt", "seed < 2 || (debug || mode == 'fast') && !(ratio >= 0.25) && n != \"12\"")
w("flow_parse", "seed_expand.txt", "sim --seed ${{ seed }} ${{env.HOME}}/x ${{ -1.5 <= ratio }}")
# Overflowed the stack before expressions had a nesting limit.
w("flow_parse", "regress_deep_iff.dv",
  "package:\n  name: p\n  tasks:\n  - name: a\n    iff: ${{ " + "(" * 3000 + "true" + ")" * 3000
  + " }}\n    run: echo ${{ " + "!" * 3000 + "false }}\n")
