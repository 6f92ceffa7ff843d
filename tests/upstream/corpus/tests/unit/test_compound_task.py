import asyncio
import json
import os
import pytest
from dv_flow.mgr import TaskGraphBuilder, TaskSetRunner, PackageLoader
from dv_flow.mgr.task_graph_dot_writer import TaskGraphDotWriter
from .marker_collector import MarkerCollector

def test_smoke(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: entry
      body:
      - name: create_file
        rundir: inherit
        uses: std.CreateFile
        with:
          filename: hello.txt
          content: |
            Hello World
      - name: glob_txt
        rundir: inherit
        uses: std.FileSet
        needs: [create_file]
        passthrough: none
        with:
          base: ${{ rundir }}
          include: "*.txt"
          type: textFile
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    collector = MarkerCollector()
    pkg = PackageLoader(marker_listeners=[collector]).load(
        os.path.join(rundir, "flow.dv"))
    
    print("Package:\n%s\n" % json.dumps(pkg.dump(), indent=2))

    assert len(collector.markers) == 0
    builder = TaskGraphBuilder(
        root_pkg=pkg,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="t1")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    for out in output.output:
        print("Out: %s" % str(out))
    assert len(output.output) == 1
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

def test_smoke_2(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: TaskType1
      tasks:
      - name: create_file
        rundir: inherit
        uses: std.CreateFile
        with:
          filename: hello.txt
          content: |
            Hello World
      - name: glob_txt
        rundir: inherit
        uses: std.FileSet
        passthrough: none
        needs: [create_file]
        with:
          base: ${{ rundir }}
          include: "*.txt"
          type: textFile
    - name: Task1
      uses: TaskType1

    - name: Task2
      uses: TaskType1

    - name: entry
      passthrough: all
      consumes: none
      needs: [Task1, Task2]
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)
    
    pkg_def = PackageLoader().load(os.path.join(rundir, "flow.dv"))
    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="t1")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    pass

def test_smoke_3(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: TaskType1
      tasks:
      - name: create_file
        rundir: inherit
        uses: std.CreateFile
        with:
          filename: hello.txt
          content: |
            Hello World
      - name: glob_txt
        rundir: inherit
        uses: std.FileSet
#        needs: [create_file]
        with:
          base: ${{ rundir }}
          include: "*.txt"
          type: textFile
    - name: Task1
      uses: TaskType1

    - name: Task2
      uses: TaskType1

    - name: entry
      needs: [Task1, Task2]
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    pkg_def = PackageLoader().load(os.path.join(rundir, "flow.dv"))
    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="t1")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

def test_uses_leaf(tmpdir):
    """Test that using a leaf task with subtasks raises an error"""
    flow_dv = """
package:
    name: foo

    tasks:
    - name: entry
      uses: std.CreateFile
      rundir: inherit
      with:
        filename: hello.txt
        content: |
          Hello World
      tasks:
        - name: GetFiles
          uses: std.FileSet
          needs: [super]
          with:
            type: textFile
            base: ${{ rundir }}
            include: "*.txt"
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    pkg_def = PackageLoader().load(os.path.join(rundir, "flow.dv"))
    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))

    # Should raise an exception because we're trying to use a leaf task
    # (std.CreateFile) and also add subtasks
    with pytest.raises(Exception, match="is not compound"):
        t1 = builder.mkTaskNode("foo.entry", name="t1")

def test_name_resolution_pkg(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: TopLevelTask
      uses: std.CreateFile
      with:
        filename: TopLevelTask.txt
        content: "TopLevelTask.txt"

    - name: entry
      body:
      - name: create_file
        rundir: inherit
        uses: std.CreateFile
        with:
          filename: hello.txt
          content: |
            Hello World
      - name: glob_txt
        rundir: inherit
        uses: std.FileSet
        needs: [create_file, TopLevelTask]
        passthrough: none
        with:
          base: ${{ rundir }}
          include: "*.txt"
          type: textFile
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    print("Package:\n%s\n" % json.dumps(pkg_def.dump(), indent=2))

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="t1")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    assert len(output.output) == 1
    assert output.output[0].src == 'foo.entry.glob_txt'
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

def test_compound_input_auto_bind(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: TopLevelTask
      uses: std.CreateFile
      with:
        filename: TopLevelTask.txt
        content: "TopLevelTask.txt"

    - name: entry
      needs: [TopLevelTask]
      body:
      - name: mytask
        passthrough: all
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    assert len(output.output) == 1
    assert output.output[0].src == 'foo.TopLevelTask'
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

def test_compound_input_auto_bind_consumes_all(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: TopLevelTask
      uses: std.CreateFile
      with:
        filename: TopLevelTask.txt
        content: "TopLevelTask.txt"

    - name: entry
      needs: [TopLevelTask]
      body:
      - name: mytask
        shell: pytask
        run: |
          with open(os.path.join(input.rundir, "mytask.txt"), "w") as fp:
            fp.write("inputs: %d" % len(input.inputs))
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    # No output, since the inputting task consumes all
    assert len(output.output) == 0

    assert os.path.isfile(os.path.join(rundir, "rundir/foo.entry/foo.entry.mytask/mytask.txt"))
    content = open(os.path.join(rundir, "rundir/foo.entry/foo.entry.mytask/mytask.txt"), "r").read().strip()
    assert content == "inputs: 1"

def test_compound_input_auto_bind_chain(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: TopLevelTask
      uses: std.CreateFile
      with:
        filename: TopLevelTask.txt
        content: "TopLevelTask.txt"

    - name: entry
      needs: [TopLevelTask]
      body:
      - name: mytask1
        passthrough: all
      - name: mytask2
        passthrough: all
        needs: [mytask1]
      - name: mytask3
        passthrough: all
        needs: [mytask2]
      - name: mytask4
        passthrough: all
        needs: [mytask3]
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    assert len(output.output) == 1
    assert output.output[0].src == 'foo.TopLevelTask'
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

def test_parameter_compound_leaf_dflt(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: entry
      with:
        p1:
          type: str
          value: "v1"
      body:
      - name: t1
        shell: pytask
        run: task.py::Task
        with:
          p1: 
            type: str
            value: "${{ this.p1 }}"
"""
    task_py = """
import os
from dv_flow.mgr import TaskDataResult

async def Task(ctxt, input):
    with open(os.path.join(ctxt.rundir, "task.out"), "w") as fp:
      fp.write("p1: %s" % input.params.p1)
      return TaskDataResult()
"""
    rundir = os.path.join(tmpdir)

    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)
    with open(os.path.join(rundir, "task.py"), "w") as fp:
        fp.write(task_py)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    assert os.path.isfile(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"))
    with open(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"), "r") as fp:
        line = fp.read().strip()
        assert line == "p1: v1"

def test_parameter_compound_leaf_ref_parent(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: entry
      with:
        p1:
          type: str
          value: "v1"
      body:
      - name: t1
        shell: pytask
        run: task.py::Task
        with:
          p2: 
            type: str
            value: "${{ this.p1 }}"
"""
    task_py = """
import os
from dv_flow.mgr import TaskDataResult

async def Task(ctxt, input):
    with open(os.path.join(ctxt.rundir, "task.out"), "w") as fp:
      fp.write("p2: %s" % input.params.p2)
      return TaskDataResult()
"""
    rundir = os.path.join(tmpdir)

    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)
    with open(os.path.join(rundir, "task.py"), "w") as fp:
        fp.write(task_py)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    assert os.path.isfile(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"))
    with open(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"), "r") as fp:
        line = fp.read().strip()
        assert line == "p2: v1"

def test_parameter_compound_leaf_ref_parent_run(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: entry
      with:
        p1:
          type: str
          value: "v1"
      body:
      - name: t1
        shell: bash
        run: |
          echo "p1: ${{ this.p1 }}" > task.out
          echo "p2: ${{ p2 }}" >> task.out
        with:
          p2: 
            type: str
            value: "${{ this.p1 }}"
"""
    rundir = os.path.join(tmpdir)

    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    assert os.path.isfile(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"))
    with open(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"), "r") as fp:
        line = fp.read().strip()
        assert "p2: v1" in line

def test_parameter_compound_leaf_ref_parent_rundir(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: entry
      with:
        p1:
          type: str
          value: "v1"
      body:
      - name: t1
        shell: bash
        run: |
            echo "p1: ${{ this.p1 }}" > task.out
            echo "p2: ${{ p2 }}" >> task.out
            echo "rundir: ${{ p2 }} x${{ rundir }}x" >> task.out
        with:
          p2: 
            type: str
            value: "${{ this.p1 }}"
"""
    rundir = os.path.join(tmpdir)

    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    marker_collector = MarkerCollector()
    pkg_def = PackageLoader(
        marker_listeners=[marker_collector]).load(
            os.path.join(rundir, "flow.dv"))
    assert len(marker_collector.markers) == 0

    builder = TaskGraphBuilder(
        root_pkg=pkg_def,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry")

    TaskGraphDotWriter().write(
        t1, 
        os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    assert os.path.isfile(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"))
    with open(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/foo.entry.t1_cmd.sh"), "r") as fp:
        line = fp.read().strip()
        assert "${{ rundir }}" not in line

    with open(os.path.join(rundir, "rundir/foo.entry/foo.entry.t1/task.out"), "r") as fp:
        line = fp.read().strip()
        print("line: %s" % line)
        assert "p1: " in line
        assert "p2: " in line
        assert "rundir: v1" in line
        assert "${{ rundir }}" not in line

@pytest.mark.skip
def test_compound_need(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: file1
      uses: std.CreateFile
      with:
        filename: file1.tst
        content: |
          file1
        type: textFile
    - name: file2
      uses: std.CreateFile
      with:
        filename: file2.tst
        content: |
          file2
        type: textFile
    - name: file3
      uses: std.CreateFile
      with:
        filename: file3.tst
        content: |
          file3
        type: textFile
    - name: Compound1
      needs: [file1, file2, file3]
      body:
      - name: Init
        shell: pytask
        run: |
          with open(os.path.join(input.rundir, "init.txt"), "w") as fp:
            fp.write("%d inputs\\n" % len(input.inputs))
          return TaskDataResult(status=0)
    - name: entry
      needs: [Compound1]
      body:
      - name: Sub
        shell: pytask
        run: |
          with open("sub.txt", "w") as fp:
            fp.write("%d inputs\\n" % len(input.inputs))
          return TaskDataResult(status=0)
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    collector = MarkerCollector()
    pkg = PackageLoader(marker_listeners=[collector]).load(
        os.path.join(rundir, "flow.dv"))
    
    print("Package:\n%s\n" % json.dumps(pkg.dump(), indent=2))

    for m in collector.markers:
        print("Marker: %s" % m.msg)
    assert len(collector.markers) == 0
    builder = TaskGraphBuilder(
        root_pkg=pkg,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="t1")

    # TaskGraphDotWriter().write(
    #     t1, 
    #     os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    for out in output.output:
        print("Out: %s" % str(out))
    assert len(output.output) == 1
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

@pytest.mark.skip
def test_compound_need_inh(tmpdir):
    pkg_dv = """
package:
  name: pkg
  tasks:
  - name: Compound1
    body:
    - name: Init
      shell: pytask
      run: |
        with open("init.txt", "w") as fp:
          fp.write("%d inputs\\n" % len(input.inputs))
        return TaskDataResult(status=0)
  - name: entry
    body:
    - name: Sub
      shell: pytask
      run: |
        with open("sub.txt", "w") as fp:
          fp.write("%d inputs\\n" % len(input.inputs))
        return TaskDataResult(status=0)
"""
    flow_dv = """
package:
    name: foo
    imports:
    - pkg.dv

    tasks:
    - name: file1
      uses: std.CreateFile
      with:
        filename: file1.tst
        content: |
          file1
        type: textFile
    - name: file2
      uses: std.CreateFile
      with:
        filename: file2.tst
        content: |
          file2
        type: textFile
    - name: file3
      uses: std.CreateFile
      with:
        filename: file3.tst
        content: |
          file3
        type: textFile
    - name: Compound1
      uses: pkg.Compound1
      needs: [file1, file2, file3]
    - name: entry
      uses: pkg.entry
      needs: [Compound1]
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)
    with open(os.path.join(rundir, "pkg.dv"), "w") as fp:
        fp.write(pkg_dv)

    collector = MarkerCollector()
    pkg = PackageLoader(marker_listeners=[collector]).load(
        os.path.join(rundir, "flow.dv"))
    
    print("Package:\n%s\n" % json.dumps(pkg.dump(), indent=2))

    for m in collector.markers:
        print("Marker: %s" % m.msg)
    assert len(collector.markers) == 0
    builder = TaskGraphBuilder(
        root_pkg=pkg,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="t1")

    # TaskGraphDotWriter().write(
    #     t1, 
    #     os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    for out in output.output:
        print("Out: %s" % str(out))
    assert len(output.output) == 1
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

@pytest.mark.skip
def test_compound_need_inh_src(tmpdir):
    pkg_dv = """
package:
  name: pkg
  tasks:
  - name: Compound1
    body:
    - name: Init
      shell: pytask
      run: |
        with open(os.path.join(input.rundir, "init.txt"), "w") as fp:
          fp.write("%d inputs\\n" % len(input.inputs))
        return TaskDataResult(status=0)
  - name: entry
    body:
    - name: Sub
      shell: pytask
      run: |
        with open(os.path.join(input.rundir, "sub.txt"), "w") as fp:
          fp.write("%d inputs\\n" % len(input.inputs))
        return TaskDataResult(status=0)
"""
    flow_dv = """
package:
    name: foo
    imports:
    - pkg.dv

    tasks:
    - name: file1
      uses: std.FileSet
      with:
        type: textFile
        base: ${{ srcdir }}
        include: file1.txt
    - name: Compound1
      uses: pkg.Compound1
      needs: [file1]
    - name: entry
      uses: pkg.entry
      needs: [Compound1]
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)
    with open(os.path.join(rundir, "pkg.dv"), "w") as fp:
        fp.write(pkg_dv)
    with open(os.path.join(rundir, "file1.txt"), "w") as fp:
        fp.write("file1.txt\n")

    collector = MarkerCollector()
    pkg = PackageLoader(marker_listeners=[collector]).load(
        os.path.join(rundir, "flow.dv"))
    
    print("Package:\n%s\n" % json.dumps(pkg.dump(), indent=2))

    for m in collector.markers:
        print("Marker: %s" % m.msg)
    assert len(collector.markers) == 0
    builder = TaskGraphBuilder(
        root_pkg=pkg,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="t1")

    # TaskGraphDotWriter().write(
    #     t1, 
    #     os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    for out in output.output:
        print("Out: %s" % str(out))
    assert len(output.output) == 1
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

def test_compound_srcdir_ref(tmpdir):
    flow_dv = """
package:
    name: foo

    tasks:
    - name: entry
      body:
      - name: t1
        rundir: inherit
        shell: bash
        run: |
          echo "srcdir: ${{ srcdir }}" > file1.txt
      - name: t2
        rundir: inherit
        needs: [t1]
        uses: std.FileSet
        with:
          type: textFile
          base: ${{ rundir }}
          include: "*.txt"

"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    collector = MarkerCollector()
    pkg = PackageLoader(marker_listeners=[collector]).load(
        os.path.join(rundir, "flow.dv"))
    
    print("Package:\n%s\n" % json.dumps(pkg.dump(), indent=2))

    for m in collector.markers:
        print("Marker: %s" % m.msg)
    assert len(collector.markers) == 0
    builder = TaskGraphBuilder(
        root_pkg=pkg,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.entry", name="entry")

    # TaskGraphDotWriter().write(
    #     t1, 
    #     os.path.join(rundir, "graph.dot"))

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0
    for out in output.output:
        print("Out: %s" % str(out))
    assert len(output.output) == 1
    assert output.output[0].type == 'std.FileSet'
    assert len(output.output[0].files) == 1

    with open(os.path.join(output.output[0].basedir, output.output[0].files[0]), "r") as fp:
        content = fp.read().strip()
        assert content.find("srcdir:") != -1
        path = content[content.find(":")+1:].strip()
        assert path == str(tmpdir)

def test_rundir_inherit_uses_compound(tmpdir):
    """Test that rundir:inherit propagates through uses of a compound task.
    
    When a task specifies rundir:inherit and uses a compound task,
    the used compound should NOT introduce its own rundir segment.
    """
    flow_dv = """
package:
    name: foo

    tasks:
    - name: inner-compound
      body:
      - name: leaf
        rundir: inherit
        uses: std.CreateFile
        with:
          filename: result.txt
          content: "hello from inner"

    - name: outer
      body:
      - name: step
        rundir: inherit
        uses: inner-compound
"""

    rundir = os.path.join(tmpdir)
    with open(os.path.join(rundir, "flow.dv"), "w") as fp:
        fp.write(flow_dv)

    collector = MarkerCollector()
    pkg = PackageLoader(marker_listeners=[collector]).load(
        os.path.join(rundir, "flow.dv"))

    assert len(collector.markers) == 0
    builder = TaskGraphBuilder(
        root_pkg=pkg,
        rundir=os.path.join(rundir, "rundir"))
    runner = TaskSetRunner(rundir=os.path.join(rundir, "rundir"))

    t1 = builder.mkTaskNode("foo.outer", name="t1")

    output = asyncio.run(runner.run(t1))

    assert runner.status == 0

    # The key assertion: with rundir:inherit on 'step', the used compound
    # 'inner-compound' should not add its own rundir layer.
    # The leaf task (with rundir:inherit) should run in the outer compound's
    # rundir directly, so result.txt should be in the outer compound's rundir.
    outer_rundir = os.path.join(rundir, "rundir")

    # Walk the rundir tree to check directory depth.
    # With the fix: outer/rundir/<outer-segment>/ should contain result.txt
    # Without the fix: there would be an extra nested directory.
    result_files = []
    for root, dirs, files in os.walk(outer_rundir):
        for f in files:
            if f == "result.txt":
                result_files.append(os.path.join(root, f))

    assert len(result_files) == 1, "Expected exactly one result.txt, found: %s" % result_files

    # The result.txt should be at depth 2 from the rundir root:
    # rundir/<outer-segment>/result.txt
    # NOT at depth 3: rundir/<outer-segment>/<inner-segment>/result.txt
    rel_path = os.path.relpath(result_files[0], outer_rundir)
    depth = len(rel_path.split(os.sep))
    assert depth == 2, (
        "result.txt is at depth %d (%s), expected depth 2 "
        "(rundir:inherit on uses-compound should not add extra directory)"
        % (depth, rel_path)
    )
