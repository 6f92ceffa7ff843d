#!/usr/bin/env python3
"""Stand-ins for LSF's bsub, bjobs and bkill, for dfm's tests (no LSF can be
installed here). bsub, bjobs and bkill are links to this file; it acts by
the name it is called with.

A job is a local background process in a session of its own, with
LSB_JOBID (and LSB_JOBINDEX, 0 outside an array) in its environment and its
output where -oo/-eo/-o/-e say (%J and %I: the job id and array index). As
LSF documents:
  bsub -J "name[1-N]" ...     a job array: one job id, N elements, each
                              known as ID[i] to bjobs and bkill, with
                              LSB_JOBINDEX=i
  bsub -W [HH:]MM             the run limit: at it, the job is killed and
                              its exit reason is TERM_RUNLIMIT
  bjobs -o "f1 f2 ... [delimiter='x']" -noheader IDS
                              fields jobid, jobindex, stat, time_left
                              ("H:MM L" before the run limit, "-" without),
                              exit_reason and pend_reason ("-" if none),
                              name; an array's id
                              lists all its elements
  bkill ID | ID[i]            the whole array, or one element
State lives in $DFM_FAKE_LSF_DIR (required):
  next_id           the last job id handed out
  submitted         one line per accepted bsub: "<id> <argv as JSON>"
  jobs/<key>.json   {"pid", "queue", "name", "submitted", "limit"}, key ID or ID.i
  jobs/<key>.exit   the job's exit code, once it has ended by itself
  jobs/<key>.reason why it was ended, if LSF ended it

Variants, by environment variable (read by each command when it runs):
  DFM_FAKE_LSF_BANNER=1       bsub prints a site wrapper's lines before and after
  DFM_FAKE_LSF_BSUB_FAIL=MSG  bsub prints MSG on stderr and exits 255
                              (e.g. "Queue does not exist. Job not submitted.")
  DFM_FAKE_LSF_UNKWN_SECS=N   bjobs says UNKWN for a running job during its first N s
"""

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time

RUNLIMIT = "TERM_RUNLIMIT: job killed after reaching LSF run time limit"

WITH_VALUE = {"-J", "-q", "-P", "-n", "-M", "-R", "-W", "-oo", "-eo", "-o", "-e", "-G", "-m", "-g"}


def state_dir():
    path = os.environ.get("DFM_FAKE_LSF_DIR")
    if not path:
        sys.stderr.write("LSF stand-in: set DFM_FAKE_LSF_DIR to a folder for job state\n")
        sys.exit(255)
    os.makedirs(os.path.join(path, "jobs"), exist_ok=True)
    return path


def key_of(job_id):
    """ID, or ID[i] (an array element) as its file name: ID.i"""
    m = re.fullmatch(r"(\d+)\[(\d+)\]", job_id)
    return f"{m.group(1)}.{m.group(2)}" if m else job_id


def job_file(root, key, ext):
    return os.path.join(root, "jobs", f"{key}.{ext}")


def load_job(root, key):
    try:
        with open(job_file(root, key, "json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def keys_for(root, job_id):
    """The jobs an id names: itself, or every element of an array."""
    if load_job(root, key_of(job_id)) is not None:
        return [key_of(job_id)]
    if job_id.isdigit():
        prefix = job_id + "."
        elements = [n[:-5] for n in os.listdir(os.path.join(root, "jobs"))
                    if n.startswith(prefix) and n.endswith(".json")]
        return sorted(elements, key=lambda k: int(k.split(".")[1]))
    return []


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


def stat_of(root, key, job):
    try:
        with open(job_file(root, key, "exit")) as f:
            return "DONE" if f.read().strip() == "0" else "EXIT"
    except OSError:
        pass
    if not alive(job["pid"]):
        return "EXIT"  # killed: the wrapper never wrote an exit code
    unknown_secs = float(os.environ.get("DFM_FAKE_LSF_UNKWN_SECS") or 0)
    if time.time() - job["submitted"] < unknown_secs:
        return "UNKWN"
    return "RUN"


def run_limit_minutes(text):
    """-W [HH:]MM, in minutes."""
    parts = text.split(":")
    if len(parts) == 1:
        return int(parts[0])
    return int(parts[0]) * 60 + int(parts[1])


def supervise(args):
    """The job itself: runs the command, kills it at its run limit."""
    exit_file, reason_file, limit = args[0], args[1], float(args[2])
    child = subprocess.Popen(args[3:])
    try:
        code = child.wait(timeout=limit if limit > 0 else None)
    except subprocess.TimeoutExpired:
        with open(reason_file, "w") as f:
            f.write(RUNLIMIT)
        # As LSF does: the job's processes are signalled, then killed.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(os.getpgrp(), signal.SIGTERM)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        code = 140
    with open(exit_file, "w") as f:
        f.write(str(code))
    return 0


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
    name = opts.get("-J", [""])[-1]
    indexes = [0]
    array = re.fullmatch(r"(.*)\[(\d+)-(\d+)\]", name)
    if array:
        first, last = int(array.group(2)), int(array.group(3))
        if first < 1 or last < first:
            sys.stderr.write(f"{name}: Bad job array index list. Job not submitted.\n")
            return 255
        indexes = list(range(first, last + 1))
    limit = 0.0
    if "-W" in opts:
        try:
            limit = run_limit_minutes(opts["-W"][-1]) * 60.0
        except ValueError:
            sys.stderr.write(f"{opts['-W'][-1]}: Bad RUNLIMIT specification. Job not submitted.\n")
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

    def path(flag_new, flag_append, index):
        for flag, mode in ((flag_new, "w"), (flag_append, "a")):
            if flag in opts:
                name = opts[flag][-1].replace("%J", str(job_id)).replace("%I", str(index))
                return name, mode
        return os.devnull, "w"

    queue = opts.get("-q", ["normal"])[-1]
    for index in indexes:
        key = f"{job_id}.{index}" if array else str(job_id)
        out_path, out_mode = path("-oo", "-o", index)
        err_path, err_mode = path("-eo", "-e", index)
        out = open(out_path, out_mode)
        err = out if err_path == out_path else open(err_path, err_mode)
        env = dict(os.environ, LSB_JOBID=str(job_id), LSB_JOBINDEX=str(index))
        for variable in ("DFM_FAKE_LSF_BANNER", "DFM_FAKE_LSF_BSUB_FAIL", "DFM_FAKE_LSF_UNKWN_SECS"):
            env.pop(variable, None)
        supervisor = [sys.executable, os.path.realpath(__file__), "--supervise",
                      job_file(root, key, "exit"), job_file(root, key, "reason"), str(limit)]
        try:
            process = subprocess.Popen(
                supervisor + command,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                start_new_session=True, close_fds=True,
            )
        except OSError as e:
            sys.stderr.write(f"cannot start the job: {e}. Job not submitted.\n")
            return 255
        record = {"pid": process.pid, "queue": queue, "name": name,
                  "submitted": time.time(), "limit": limit}
        with open(job_file(root, key, "json"), "w") as f:
            json.dump(record, f)
    with open(os.path.join(root, "submitted"), "a") as f:
        f.write(f"{job_id} {json.dumps(args)}\n")
    default = "" if "-q" in opts else "default "
    print(f"Job <{job_id}> is submitted to {default}queue <{queue}>.")
    if banner:
        print("lsf_bsub: remember to clean up your scratch space")
    return 0


def field(root, key, job, name):
    job_id, _, index = key.partition(".")
    stat = stat_of(root, key, job)
    if name == "jobid":
        return job_id
    if name == "jobindex":
        return index or "0"
    if name == "stat":
        return stat
    if name == "name":
        return job["name"] or "-"
    if name == "time_left":
        if stat != "RUN" or not job.get("limit"):
            return "-"
        left = max(0.0, job["limit"] - (time.time() - job["submitted"]))
        minutes = int(left // 60)
        return f"{minutes // 60}:{minutes % 60:02d} L"
    if name == "exit_reason":
        try:
            with open(job_file(root, key, "reason")) as f:
                return f.read().strip() or "-"
        except OSError:
            return "-"
    return "-"


def bjobs(args):
    root = state_dir()
    ids, i = [], 0
    fields, delimiter = ["jobid", "stat"], " "
    while i < len(args):
        if args[i] == "-o" and i + 1 < len(args):
            spec = args[i + 1]
            m = re.search(r"delimiter='(.)'", spec)
            if m:
                delimiter = m.group(1)
                spec = spec[:m.start()] + spec[m.end():]
            fields = spec.split()
            i += 2
            continue
        if not args[i].startswith("-"):
            ids.append(args[i])
        i += 1
    if not ids:
        ids = sorted(name[:-5].replace(".", "[", 1) + ("]" if "." in name[:-5] else "")
                     for name in os.listdir(os.path.join(root, "jobs")) if name.endswith(".json"))
    found = 0
    for job_id in ids:
        keys = keys_for(root, job_id)
        if not keys:
            sys.stderr.write(f"Job <{job_id}> is not found\n")
            continue
        for key in keys:
            found += 1
            job = load_job(root, key)
            print(delimiter.join(field(root, key, job, name) for name in fields))
    return 0 if found else 255


def bkill(args):
    root = state_dir()
    status = 0
    for job_id in (a for a in args if not a.startswith("-")):
        keys = keys_for(root, job_id)
        if not keys:
            sys.stderr.write(f"Job <{job_id}>: No matching job found\n")
            status = 255
            continue
        live = [k for k in keys if stat_of(root, k, load_job(root, k)) not in ("DONE", "EXIT")]
        if not live:
            sys.stderr.write(f"Job <{job_id}>: Job has already finished\n")
            status = 255
            continue
        for key in live:
            sid = load_job(root, key)["pid"]
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
    if len(sys.argv) > 1 and sys.argv[1] == "--supervise":
        return supervise(sys.argv[2:])
    name = os.path.basename(sys.argv[0])
    commands = {"bsub": bsub, "bjobs": bjobs, "bkill": bkill}
    if name not in commands:
        sys.stderr.write(f"LSF stand-in: call me as bsub, bjobs or bkill, not {name}\n")
        return 2
    return commands[name](sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
