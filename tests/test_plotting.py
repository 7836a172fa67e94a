"""Drawing a figure leaves the user's matplotlib state alone (the guide: library calls never change a
user's global state): no backend switch, no figure registered with pyplot."""

import subprocess
import sys

SCRIPT = r"""
import matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as pyplot
from loihi_targets.energy import energy_report, write_energy_figure
from spiking_mcc.workload import LayerWorkload, Workload

layer = LayerWorkload("fc1", 10, 4, 0.0, 40.0, 0.0, 3.0, analog_input=True)
workload = Workload("tiny", "snn", "snn", 4, (layer,)).to_dict()
report = energy_report([workload], devices=["loihi1"])
write_energy_figure(report, OUT)
print(matplotlib.get_backend(), len(pyplot.get_fignums()))
"""


def test_a_figure_does_not_switch_the_backend_or_register_with_pyplot(tmp_path):
    out = tmp_path / "energy.png"
    script = SCRIPT.replace("OUT", repr(str(out)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["svg", "0"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
