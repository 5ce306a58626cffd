"""What every stage script promises through ``edgetune.cli.run_stage``, checked in a real process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from conftest import REPO, project_env

# A stage whose body runs until interrupted; it says on stdout when the body has started.
SLOW_STAGE = """
import sys, time
from edgetune import cli

def body():
    print("started", flush=True)
    time.sleep(120)

sys.exit(cli.run_stage("slow", body))
"""


def test_a_stage_interrupted_by_ctrl_c_exits_130_with_one_line():
    proc = subprocess.Popen([sys.executable, "-c", SLOW_STAGE], env={**project_env(), "PYTHONPATH": str(REPO / "src")},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # as a shell starts it: Ctrl-C not ignored, whatever the test runner does with it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline() == "started\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out) == (130, "")
    assert re.fullmatch(r"\d\d:\d\d:\d\d slow: interrupted; no output was written\n", err), err
