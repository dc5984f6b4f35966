import os

import pytest

import zeronlp as zn

# ZERONLP_GPU_DRYRUN=1 runs the GPU tests with "cpu" in place of "cuda": a check of the tests
# themselves on a machine without a GPU (it proves nothing about CuPy).
DRYRUN = bool(os.environ.get("ZERONLP_GPU_DRYRUN"))
SECOND_DEVICE = "cpu" if DRYRUN else "cuda"


def _gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if DRYRUN or _gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def on_cpu_and_gpu():
    """Run a function once on CPU and once on CUDA with the same seed; return both results."""

    def run(fn, seed=0):
        results = []
        for device in ("cpu", SECOND_DEVICE):
            zn.use_device(device)
            zn.manual_seed(seed)
            try:
                results.append(fn())
            finally:
                zn.use_device("cpu")
        return results

    return run
