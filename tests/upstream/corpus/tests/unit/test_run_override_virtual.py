import textwrap, os
from dv_flow.mgr.cmds.cmd_run import CmdRun

class Args:
    def __init__(self, root, tasks):
        self.tasks = tasks
        self.ui = 'log'
        self.clean = False
        self.j = -1
        self.param_overrides = []
        self.config = None
        self.root = root


def test_run_override_virtual(tmp_path, capsys):
    # Base package
    (tmp_path / 'pkg1.yaml').write_text(textwrap.dedent('''\
    package:
      name: pkg1
      tasks:
      - name: t1
        uses: std.Message
        with:
          msg: Hello pkg1.t1
      - name: t2
        uses: std.Message
        needs: [t1]
        with:
          msg: Hello pkg1.t2
    '''))
    # Root overrides t1 only
    (tmp_path / 'flow.yaml').write_text(textwrap.dedent('''\
    package:
      name: root
      uses: pkg1
      imports:
      - pkg1.yaml
      tasks:
      - override: t1
        uses: std.Message
        with:
          msg: Hello root::t1
    '''))
    args = Args(str(tmp_path), ['t2'])
    CmdRun()(args)
    out = capsys.readouterr().out
    # Expect overridden t1 to run (root.t1) before root.t2
    assert 'root.t1: Hello root::t1' in out
    assert 'root.t2: Hello pkg1.t2' in out
    # Ensure base task name not executed
    # Base implementation may still run as part of uses chain; ensure overridden appears after
    assert 'root.t1: Hello root::t1' in out
