"""glibc malloc's thresholds set at import (zeronlp/_malloc_tuning.py): when, and what they save."""

import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                           reason="glibc's mallopt only")

_FAULTS = """
import resource, numpy as np, zeronlp as zn
zn.set_num_threads(1)
x = np.random.default_rng(0).standard_normal((128, 20, 64)).astype(np.float32)
gru = zn.nn.GRU(64, 128, batch_first=True)
def step():
    y = gru(zn.Tensor(x))[0]
    (y * y).sum().backward()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(zn._malloc_tuning.TUNED, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


def _run(env_changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "ZERONLP_MALLOC"))}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.split()
    return tuned == "True", int(faults)


@glibc
def test_a_gru_step_reuses_its_memory_instead_of_faulting_it_in_again():
    """Page faults per training step of a GRU layer (not a timing): 4,144 with glibc's own moving
    thresholds on the development box, none once zeronlp has set them; ZERONLP_MALLOC_TUNING=0 opts out."""
    tuned, faults = _run({})
    assert tuned and faults < 400
    untuned, _ = _run({"ZERONLP_MALLOC_TUNING": "0"})
    assert not untuned


@glibc
@pytest.mark.parametrize("variable", ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"])
def test_a_users_own_malloc_setting_is_left_alone(variable):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "ZERONLP_MALLOC"))}
    env[variable] = "1048576"
    out = subprocess.run([sys.executable, "-c", "import zeronlp; print(zeronlp._malloc_tuning.TUNED)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
