"""The Makefile's set-up, run by the real ``make`` on a copy of the Makefile.

A user without root and without sudo cannot install the Debian packages: ``make setup`` must say
which ones, in one line they can paste, and leave no stamp (so the next ``make`` checks again).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import REPO

ABSENT = ["edgetune-absent-engine", "edgetune-absent-voice"]  # names no Debian archive has
TOOLS = ("bash", "make", "dpkg-query", "grep", "mkdir", "touch", "id")  # what the rule runs; no sudo


def test_setup_without_root_nor_sudo_names_the_missing_packages_in_one_line():
    # a folder of its own under /tmp, open to an unprivileged user (pytest's tmp_path is root's alone)
    with tempfile.TemporaryDirectory(prefix="edgetune-make-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        shutil.copy(REPO / "Makefile", root / "Makefile")
        (root / "bin").mkdir()
        for tool in TOOLS:
            (root / "bin" / tool).symlink_to(shutil.which(tool))
        cmd = ["make", ".make/system.stamp", f"APT_PACKAGES={' '.join(ABSENT)}"]
        if os.geteuid() == 0:  # become nobody: the Makefile then finds neither root nor sudo itself
            (root / ".make").mkdir(mode=0o777)
            (root / ".make").chmod(0o777)
            cmd = [shutil.which("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        proc = subprocess.run(cmd, cwd=root, env={"PATH": str(root / "bin"), "LANG": "C"}, capture_output=True,
                              text=True, timeout=60)
        lines = (root / "Makefile").read_text().splitlines()
        line = 1 + next(i for i, text in enumerate(lines) if text.startswith("\t@missing="))  # make names it
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr == (
            f"edgetune: please install these Debian packages by hand (needs root): apt-get install {' '.join(ABSENT)}\n"
            f"make: *** [Makefile:{line}: .make/system.stamp] Error 1\n")
        assert not (root / ".make" / "system.stamp").exists()
