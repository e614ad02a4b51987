"""``python netguard_boot.py -m MODULE ARGS...``: install the network guard (logging to $NETGUARD_LOG), then
run MODULE as ``python -m`` would. Used as a worker's interpreter by test_no_network.py."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netguard  # noqa: E402

guard = netguard.Guard(Path(os.environ[netguard.LOG_ENV]))
guard.active = True
sys.addaudithook(guard.hook)
with open(guard.log, "a", encoding="utf-8") as out:  # proof that this process ran under the guard
    out.write(f"{os.getpid()} started {' '.join(sys.argv[1:3])}\n")
if len(sys.argv) < 3 or sys.argv[1] != "-m":
    sys.exit("usage: netguard_boot.py -m MODULE [ARGS...]")
module = sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
sys.path[0] = os.getcwd()  # as with `python -m`
runpy.run_module(module, run_name="__main__", alter_sys=True)
