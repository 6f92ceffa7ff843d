"""The project's own Python tasks (found through the client's pythonpath)."""
import os
import sys

from dv_flow.mgr import TaskDataResult, TaskMarker, SeverityE


async def SimImage(ctxt, input):
    files = []
    for item in input.inputs:
        if getattr(item, "type", None) == "std.FileSet":
            files.extend(os.path.join(item.basedir, f) for f in item.files)
    image = os.path.join(input.rundir, "%s.img" % input.params.top)
    with open(image, "w") as fp:
        fp.write("\n".join(sorted(os.path.basename(f) for f in files)) + "\n")
    return TaskDataResult(
        status=0,
        output=[ctxt.mkDataItem(
            "std.FileSet", filetype="simImage", basedir=input.rundir,
            files=[os.path.basename(image)])],
        markers=[TaskMarker(msg="built image of %d files" % len(files),
                            severity=SeverityE.Info)],
        memento={"top": input.params.top})


async def SimRun(ctxt, input):
    images = [f for item in input.inputs for f in getattr(item, "files", [])]
    with open(os.path.join(input.rundir, "sim.log"), "w") as fp:
        fp.write("seed=%d images=%s\n" % (input.params.seed, ",".join(images)))
    # As cocotb records it (PYGPI_PYTHON_BIN): the interpreter as the
    # client itself names it, not the binary that resolves to.
    with open(os.path.join(input.rundir, "python.txt"), "w") as fp:
        fp.write(sys.executable + "\n")
    return TaskDataResult(status=0)
