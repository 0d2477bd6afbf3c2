"""The same events on every x86-64 CPU: every bundled recording replayed under switched
BLAS kernels, numpy SIMD paths and libm variants gives the checked-in golden digests.

Why (DESIGN rule 2): which OpenBLAS kernel, which numpy loop (SSE, AVX2 with FMA,
AVX-512) and which glibc libm variant (FMA or not) runs is chosen at run time from the
CPU, and each rounds differently in the last bit; before ``wdp.dsp.portable`` the golden
digests made on an AMD EPYC failed on an Intel Xeon with AVX-512. This machine can play
other CPUs' parts by switching them off:

- ``OPENBLAS_CORETYPE``: Prescott (SSE3 kernels, no FMA) and Haswell (AVX2 + FMA, what
  an EPYC gets) instead of this CPU's own;
- ``NPY_DISABLE_CPU_FEATURES``: numpy's AVX-512 dispatch targets, then every target
  above its baseline (AVX2 and FMA3 too; numpy refuses to switch off the baseline);
- ``GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F``: libm's non-FMA exp, log,
  sin, cos, atan2 and pow (the names without ``_Usable``: glibc 2.33 and later);
- ``NUMBA_CPU_NAME=generic`` (in the last setting only, with all of the above):
  numba's kernels compiled for SSE2 instead of this CPU's AVX-512.

One child process per setting replays every recording (``tools/update_golden.py``'s
replay) and reports its digests together with proof that its setting took effect (the
OpenBLAS core name, numpy's switched-off features, a hash of libm results that must
differ from the default's, numba's target CPU). Children run two at a time; the test
takes 45 to 85 s here (the machine is shared), 30 s more while numba compiles for the
generic CPU the first time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "events.json"
GLIBC_NO_FMA = "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F"
CHILD_TIMEOUT_S = 600


def _npy_targets() -> tuple[list[str], list[str]]:
    """numpy's run-time dispatch targets this CPU has: (the AVX-512 ones, all of them)."""
    from numpy._core import _multiarray_umath as umath

    have = [t for t in umath.__cpu_dispatch__ if umath.__cpu_features__.get(t)]
    avx512 = [t for t in have if "512" in t or t == "X86_V4"]
    return avx512, have


def settings() -> dict[str, dict[str, str]]:
    """The kernel settings, by name: the environment variables each child gets."""
    avx512, every = _npy_targets()
    return {
        "default": {},
        "openblas-prescott": {"OPENBLAS_CORETYPE": "Prescott"},
        "openblas-haswell": {"OPENBLAS_CORETYPE": "Haswell"},
        "numpy-no-avx512": {"NPY_DISABLE_CPU_FEATURES": " ".join(avx512)},
        "numpy-baseline-only": {"NPY_DISABLE_CPU_FEATURES": " ".join(every)},
        "glibc-no-fma": {"GLIBC_TUNABLES": GLIBC_NO_FMA},
        "all-off": {  # all together: the nearest this CPU gets to an old one
            "OPENBLAS_CORETYPE": "Prescott",
            "NPY_DISABLE_CPU_FEATURES": " ".join(every),
            "GLIBC_TUNABLES": GLIBC_NO_FMA,
            # numba's kernels compiled for plain x86-64 (SSE2): the first run compiles
            # them (about 30 s), later runs load them from numba's on-disk cache
            "NUMBA_CPU_NAME": "generic",
        },
    }


# --- the child -------------------------------------------------------------------------


def _openblas_core() -> str | None:
    """The kernel OpenBLAS chose (numpy's bundled scipy-openblas), or None if unknown."""
    import ctypes

    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for lib in sorted(libs.glob("libscipy_openblas*.so*")):
        handle = ctypes.CDLL(str(lib))
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
            fn = getattr(handle, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def _libm_hash() -> str:
    """sha256 of libm's exp, log, sin and atan2 (through ``math``) on fixed inputs:
    different under GLIBC_TUNABLES when glibc then runs its non-FMA variants."""
    xs = np.random.default_rng(0).uniform(-20.0, 20.0, 50_000).tolist()
    vals = [f(x) for x in xs for f in (math.exp, math.sin)]
    vals += [math.log(abs(x) + 1e-3) + math.atan2(x, 1.5) for x in xs]
    return hashlib.sha256(struct.pack(f"{len(vals)}d", *vals)).hexdigest()


def child_report() -> dict:
    """Replay every bundled recording; the digests and the kernels this process ran."""
    sys.path.insert(0, str(ROOT / "tools"))
    import numba
    import update_golden
    from numpy._core import _multiarray_umath as umath

    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
    return {
        "golden": update_golden.compute_golden(),
        "openblas_core": _openblas_core(),
        "npy_still_on": [t for t in disabled if umath.__cpu_features__.get(t)],
        "libm": _libm_hash(),
        "numba_cpu": numba.config.CPU_NAME or "host",
    }


# --- the test --------------------------------------------------------------------------


def _run_child(env_extra: dict[str, str]) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = "1"  # two children share two cores
    env.update(env_extra)
    proc = subprocess.run(
        [sys.executable, __file__],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-20:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_setting_took_effect(name: str, env: dict[str, str], got: dict, default: dict):
    """Fail when a setting did not switch what it should (a vacuous pass otherwise)."""
    want_core, core = env.get("OPENBLAS_CORETYPE"), got["openblas_core"]
    if want_core and core is not None:  # OpenBLAS names Prescott's kernels "Katmai"
        assert core.lower() == want_core.lower() or core != default["openblas_core"], (
            f"{name}: OpenBLAS ran its default kernel {core}, not {want_core}"
        )
    assert not got["npy_still_on"], f"{name}: numpy kept {got['npy_still_on']} switched on"
    want_cpu = env.get("NUMBA_CPU_NAME")
    if want_cpu:
        assert got["numba_cpu"] == want_cpu, f"{name}: numba compiled for {got['numba_cpu']}"
    if "GLIBC_TUNABLES" in env and _npy_targets()[1]:  # a CPU with AVX2/FMA
        assert got["libm"] != default["libm"], (
            f"{name}: libm gave the same bits as by default: {env['GLIBC_TUNABLES']} had no "
            "effect (glibc before 2.33 spells the names AVX2_Usable, FMA_Usable)"
        )


@pytest.mark.slow
def test_events_are_the_same_under_every_kernel_setting():
    golden = json.loads(GOLDEN.read_text())
    cases = settings()
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = dict(zip(cases, pool.map(_run_child, cases.values()), strict=True))
    errors = {k: r["error"] for k, r in reports.items() if "error" in r}
    assert not errors, "children failed:\n" + "\n".join(
        f"{k}:\n  " + "\n  ".join(v) for k, v in errors.items()
    )
    for name, env in cases.items():
        _check_setting_took_effect(name, env, reports[name], reports["default"])
    problems = []
    for name in cases:
        for rec, want in sorted(golden.items()):
            got = reports[name]["golden"].get(rec)
            if got != want:
                sha = "missing" if got is None else got["sha256"][:16]
                problems.append(f"{name}: {rec} sha256 {want['sha256'][:16]}... -> {sha}...")
    assert not problems, (
        "events differ from tests/golden/events.json under these kernel settings "
        f"({', '.join(f'{k}={v}' for k, v in cases.items())}):\n" + "\n".join(problems)
    )


if __name__ == "__main__":
    print(json.dumps(child_report()))
