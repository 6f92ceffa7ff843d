#!/usr/bin/env python3
"""Stand-ins for LSF's bsub, bjobs and bkill, for dfm's tests (no LSF can be
installed here). bsub, bjobs and bkill are links to this file; it acts by
the name it is called with.

A job is a local background process in a session of its own, with
LSB_JOBID in its environment and its output where -oo/-eo/-o/-e say. State
lives in $DFM_FAKE_LSF_DIR (required):
  next_id           the last job id handed out
  submitted         one line per accepted bsub: "<id> <argv as JSON>"
  jobs/<id>.json    {"pid", "queue", "name", "submitted"}
  jobs/<id>.exit    the job's exit code, once it has ended by itself

Variants, by environment variable (read by each command when it runs):
  DFM_FAKE_LSF_BANNER=1       bsub prints a site wrapper's lines before and after
  DFM_FAKE_LSF_BSUB_FAIL=MSG  bsub prints MSG on stderr and exits 255
                              (e.g. "Queue does not exist. Job not submitted.")
  DFM_FAKE_LSF_UNKWN_SECS=N   bjobs says UNKWN for a running job during its first N s
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

WITH_VALUE = {"-J", "-q", "-P", "-n", "-M", "-R", "-W", "-oo", "-eo", "-o", "-e", "-G", "-m", "-g"}


def state_dir():
    path = os.environ.get("DFM_FAKE_LSF_DIR")
    if not path:
        sys.stderr.write("LSF stand-in: set DFM_FAKE_LSF_DIR to a folder for job state\n")
        sys.exit(255)
    os.makedirs(os.path.join(path, "jobs"), exist_ok=True)
    return path


def job_file(root, job_id, ext):
    return os.path.join(root, "jobs", f"{job_id}.{ext}")


def load_job(root, job_id):
    try:
        with open(job_file(root, job_id, "json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def session_members(sid):
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the name: state ppid pgrp session
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def stat_of(root, job_id, job):
    try:
        with open(job_file(root, job_id, "exit")) as f:
            return "DONE" if f.read().strip() == "0" else "EXIT"
    except OSError:
        pass
    if not alive(job["pid"]):
        return "EXIT"  # killed: the wrapper never wrote an exit code
    unknown_secs = float(os.environ.get("DFM_FAKE_LSF_UNKWN_SECS") or 0)
    if time.time() - job["submitted"] < unknown_secs:
        return "UNKWN"
    return "RUN"


def bsub(args):
    root = state_dir()
    opts, i = {}, 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-"):
            break
        if arg not in WITH_VALUE or i + 1 >= len(args):
            sys.stderr.write(f"{arg}: Illegal option. Job not submitted.\n")
            return 255
        opts.setdefault(arg, []).append(args[i + 1])
        i += 2
    command = args[i:]
    if not command:
        sys.stderr.write("No command is specified. Job not submitted.\n")
        return 255
    failure = os.environ.get("DFM_FAKE_LSF_BSUB_FAIL")
    if failure:
        sys.stderr.write(failure + "\n")
        return 255
    banner = os.environ.get("DFM_FAKE_LSF_BANNER") == "1"
    if banner:
        print("lsf_bsub: site wrapper 2.1 -- checking project quota ... ok")

    with open(os.path.join(root, "lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(os.path.join(root, "next_id")) as f:
                job_id = int(f.read()) + 1
        except (OSError, ValueError):
            job_id = 1001
        with open(os.path.join(root, "next_id"), "w") as f:
            f.write(str(job_id))

    def output(flag_new, flag_append):
        if flag_new in opts:
            return open(opts[flag_new][-1], "w")
        if flag_append in opts:
            return open(opts[flag_append][-1], "a")
        return open(os.devnull, "w")

    out = output("-oo", "-o")
    same = opts.get("-eo", opts.get("-e")) == opts.get("-oo", opts.get("-o"))
    err = out if same else output("-eo", "-e")
    env = dict(os.environ, LSB_JOBID=str(job_id))
    for name in ("DFM_FAKE_LSF_BANNER", "DFM_FAKE_LSF_BSUB_FAIL", "DFM_FAKE_LSF_UNKWN_SECS"):
        env.pop(name, None)
    exit_file = job_file(root, job_id, "exit")
    try:
        process = subprocess.Popen(
            ["bash", "-c", 'f=$1; shift; "$@"; echo $? > "$f"', "lsf-job", exit_file] + command,
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
            start_new_session=True, close_fds=True,
        )
    except OSError as e:
        sys.stderr.write(f"cannot start the job: {e}. Job not submitted.\n")
        return 255
    queue = opts.get("-q", ["normal"])[-1]
    record = {"pid": process.pid, "queue": queue, "name": opts.get("-J", [""])[-1],
              "submitted": time.time()}
    with open(job_file(root, job_id, "json"), "w") as f:
        json.dump(record, f)
    with open(os.path.join(root, "submitted"), "a") as f:
        f.write(f"{job_id} {json.dumps(args)}\n")
    default = "" if "-q" in opts else "default "
    print(f"Job <{job_id}> is submitted to {default}queue <{queue}>.")
    if banner:
        print("lsf_bsub: remember to clean up your scratch space")
    return 0


def bjobs(args):
    root = state_dir()
    ids, i = [], 0
    while i < len(args):
        if args[i] == "-o":
            i += 2
            continue
        if not args[i].startswith("-"):
            ids.append(args[i])
        i += 1
    if not ids:
        ids = sorted(name[:-5] for name in os.listdir(os.path.join(root, "jobs"))
                     if name.endswith(".json"))
    found = 0
    for job_id in ids:
        job = load_job(root, job_id)
        if job is None:
            sys.stderr.write(f"Job <{job_id}> is not found\n")
            continue
        found += 1
        print(f"{job_id} {stat_of(root, job_id, job)}")
    return 0 if found else 255


def bkill(args):
    root = state_dir()
    status = 0
    for job_id in (a for a in args if not a.startswith("-")):
        job = load_job(root, job_id)
        if job is None:
            sys.stderr.write(f"Job <{job_id}>: No matching job found\n")
            status = 255
            continue
        if stat_of(root, job_id, job) in ("DONE", "EXIT"):
            sys.stderr.write(f"Job <{job_id}>: Job has already finished\n")
            status = 255
            continue
        sid = job["pid"]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in session_members(sid):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.time() + 2
            while session_members(sid) and time.time() < deadline:
                time.sleep(0.02)
        print(f"Job <{job_id}> is being terminated")
    return status


def main():
    name = os.path.basename(sys.argv[0])
    commands = {"bsub": bsub, "bjobs": bjobs, "bkill": bkill}
    if name not in commands:
        sys.stderr.write(f"LSF stand-in: call me as bsub, bjobs or bkill, not {name}\n")
        return 2
    return commands[name](sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
