"""Products with a weight packed once, for the many small GEMMs of a recurrent layer's steps.

A step multiplies a few rows (the batch) by the same weight: ``out = a @ rows^T`` with ``a`` (M, K) and
``rows`` (N, K), T times per sequence. BLAS repacks the weight into its kernel's panel layout at every
call — at M = 20 rows that costs about as much as the product (OpenBLAS, 20 x 650 x 2600: 72 GFLOP/s on
one Zen 3 core, 103 on two). Here the weight is packed once per sequence and each step runs a
register-tiled micro-kernel over it:

* packed weight: panels of ``NR = 24`` output columns, ``B[p, k, c] = rows[p NR + c, k]`` (zeros past N),
  so the kernel reads each panel front to back;
* each call packs ``a`` in tiles of ``MR = 4`` rows, ``A[t, k, r] = a[t MR + r, k]`` (zeros past M);
* the micro-kernel keeps a 4 x 24 tile of ``out`` in twelve 8-float vector registers and, for each k,
  adds ``A[t, k, r] B[p, k, :]`` to row r with fused multiply-adds:
  ``out[tMR + r, pNR + c] = sum_k A[t, k, r] B[p, k, c]``. It is written as LLVM IR (a numba
  intrinsic) because LLVM does not keep such a tile in registers when it comes from array code.

Sums run in another order than BLAS's, so results differ from ``np.matmul`` by float32 rounding
(tests bound it). Measured on a Zen 3 box, 20 x 650 x 2600: 0.93 ms with BLAS, 0.71 ms packed on one
core (95 GFLOP/s, the core's FMA peak); on two cores, each with half the columns, 103 -> 177 GFLOP/s
(``python -m benchmarks step_gemm``: 1.22-1.33x BLAS at the LM step shapes, 1.00-1.11x at batch 64-128).

Used only where measured: NumPy float32, numba installed, an AVX2 + FMA CPU without AVX-512 (the
kernel is built for 8-float vectors; on AVX-512 BLAS's own kernels use 16 and nobody here has measured
one against the other), at least 2 rows (one row is BLAS's matrix-vector product, faster).
``ZERONLP_PACKED_GEMM=0`` turns it off, ``=1`` allows it on AVX-512 CPUs too. Otherwise
:func:`pack` returns the BLAS form with the same call.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from .. import backend
from . import vector_math

MR, NR = 4, 24  # rows and columns of the register tile (NR / 8 vectors of 8 float32 each)
# k per pass over the panels: blocks of 128-512 were 1-3% slower at every step shape measured (K <= 4096),
# so all of K goes in one pass; the blocked path stays for longer sums (and is tested with small blocks)
DEPTH_BLOCK = 100_000
_BUILT: dict[str, Any] = {}


def _build() -> dict[str, Any] | None:  # pragma: no cover - compiled code; covered through pack()
    global tile_product  # a module global, not a closure cell, so that numba's disk cache hits (vector_math)
    try:
        import llvmlite.ir as ir
        import numba
        from numba import types
        from numba.core import cgutils
        from numba.extending import intrinsic
    except ImportError:
        return None
    vectors = NR // 8

    @intrinsic
    def tile_product(typingctx, a_address, b_address, out_address, depth, out_stride, accumulate):
        """out[r, c] (+)= sum_k A[k, r] B[k, c] for an (MR, NR) tile: A (depth, MR) and B (depth, NR)
        contiguous float32 at the given addresses, out's rows ``out_stride`` floats apart; added to
        out when ``accumulate`` is nonzero, else stored."""
        signature = types.void(types.intp, types.intp, types.intp, types.intp, types.intp, types.intp)

        def codegen(context, builder, sig, args):
            a_address, b_address, out_address, depth, out_stride, accumulate = args
            f32, i32, i64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
            v8 = ir.VectorType(f32, 8)
            a = builder.inttoptr(a_address, f32.as_pointer())
            b = builder.inttoptr(b_address, f32.as_pointer())
            out = builder.inttoptr(out_address, f32.as_pointer())
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v8, [v8, v8, v8]),
                                                 "llvm.fma.v8f32")
            undef, lane0 = ir.Constant(v8, ir.Undefined), ir.Constant(i32, 0)
            splat = ir.Constant(ir.VectorType(i32, 8), [0] * 8)

            def at(base, index):
                return builder.gep(base, [index])

            def const(value):
                return ir.Constant(i64, value)

            entry = builder.basic_block
            loop = builder.append_basic_block("tile.loop")
            done = builder.append_basic_block("tile.done")
            builder.branch(loop)
            builder.position_at_end(loop)
            k = builder.phi(i64)
            tile = [builder.phi(v8) for _ in range(MR * vectors)]
            b_row = builder.mul(k, const(NR))
            b_vectors = [builder.load(builder.bitcast(at(b, builder.add(b_row, const(8 * j))), v8.as_pointer()),
                                      align=4) for j in range(vectors)]
            a_row = builder.mul(k, const(MR))
            summed = []
            for r in range(MR):
                scalar = builder.load(at(a, builder.add(a_row, const(r))), align=4)
                broadcast = builder.shuffle_vector(builder.insert_element(undef, scalar, lane0), undef, splat)
                summed += [builder.call(fma, [broadcast, b_vectors[j], tile[r * vectors + j]])
                           for j in range(vectors)]
            k_next = builder.add(k, const(1))
            builder.cbranch(builder.icmp_signed("<", k_next, depth), loop, done)
            k.add_incoming(const(0), entry)
            k.add_incoming(k_next, loop)
            for phi, value in zip(tile, summed):
                phi.add_incoming(ir.Constant(v8, [0.0] * 8), entry)
                phi.add_incoming(value, loop)
            builder.position_at_end(done)
            targets = [builder.bitcast(at(out, builder.add(builder.mul(const(r), out_stride), const(8 * j))),
                                       v8.as_pointer()) for r in range(MR) for j in range(vectors)]
            with builder.if_else(builder.icmp_signed("!=", accumulate, const(0))) as (add, store):
                with add:
                    for value, target in zip(summed, targets):
                        builder.store(builder.fadd(builder.load(target, align=4), value), target, align=4)
                with store:
                    for value, target in zip(summed, targets):
                        builder.store(value, target, align=4)
            return context.get_dummy_value()

        return signature, codegen

    kernel = numba.njit(cache=True, nogil=True, error_model="numpy")

    @kernel
    def pack_rows(rows, packed):
        """packed[p, k, c] = rows[g, u, k] for column j = p NR + c = g n + u (zeros for j >= G n), for
        rows whose k runs along memory: each row read whole."""
        groups, n, depth = rows.shape
        packed[-1] = 0  # the last panel's columns past G n
        p = c = 0
        for g in range(groups):
            for u in range(n):
                for k in range(depth):
                    packed[p, k, c] = rows[g, u, k]
                c += 1
                if c == NR:
                    p, c = p + 1, 0

    @kernel
    def product(a, packed, columns, block, out):
        """out[:, :columns] = a @ (the packed weight); out's rows contiguous. The sum over k runs in
        blocks of ``block``, so that a block of a's tiles stays in L2 and one of a panel in L1."""
        m, depth = a.shape
        tiles = (m + MR - 1) // MR
        a_tiles = np.zeros((tiles, depth, MR), dtype=np.float32)
        for t in range(tiles):
            for r in range(min(MR, m - t * MR)):
                for k in range(depth):
                    a_tiles[t, k, r] = a[t * MR + r, k]
        edge = np.empty((MR, NR), dtype=np.float32)
        stride = out.strides[0] // 4
        for k0 in range(0, depth, block):
            size = min(block, depth - k0)
            for p in range(packed.shape[0]):
                j0 = p * NR
                panel = packed.ctypes.data + (p * depth + k0) * NR * 4
                for t in range(tiles):
                    i0 = t * MR
                    a_tile = a_tiles.ctypes.data + (t * depth + k0) * MR * 4
                    if j0 + NR <= columns and i0 + MR <= m:
                        tile_product(a_tile, panel, out.ctypes.data + (i0 * stride + j0) * 4, size, stride, k0)
                    else:
                        tile_product(a_tile, panel, edge.ctypes.data, size, NR, 0)
                        for r in range(min(MR, m - i0)):
                            for c in range(min(NR, columns - j0)):
                                if k0:
                                    out[i0 + r, j0 + c] += edge[r, c]
                                else:
                                    out[i0 + r, j0 + c] = edge[r, c]

    return {"pack_rows": pack_rows, "product": product}


def _kernels() -> dict[str, Any] | None:
    if "all" not in _BUILT:
        _BUILT["all"] = _build() or False
    return _BUILT["all"] or None


@functools.cache
def _cpu_features() -> frozenset[str]:
    try:
        from llvmlite import binding
    except ImportError:
        return frozenset()
    features = binding.get_host_cpu_features()
    return frozenset(name for name in ("avx2", "fma", "avx512f") if features.get(name, False))


def cpu_suits() -> bool:
    """Whether this CPU runs the 8-float kernel at least as well as BLAS's (see the module docstring);
    ``ZERONLP_PACKED_GEMM`` = 0 / 1 overrides (1 still needs AVX2 and FMA)."""
    setting = os.environ.get("ZERONLP_PACKED_GEMM", "")
    has = _cpu_features()
    return setting != "0" and {"avx2", "fma"} <= has and ("avx512f" not in has or setting == "1")


def step_product() -> str:
    """What the recurrent steps multiply with on this machine and setting (for logs and benchmarks)."""
    return "packed weights" if cpu_suits() else "BLAS"


class BlasWeight:
    """``out = a @ rows^T`` by BLAS (NumPy's or CuPy's) on a contiguous (K, N) copy of the weight (a
    row-major right operand runs the small-batch product faster than the transposed view: 4-40%
    measured)."""

    def __init__(self, rows: Any):
        self.xp = backend.get_array_module(rows)
        self.weight = self.xp.ascontiguousarray(rows.reshape(-1, rows.shape[-1]).T)
        # CuPy: dot, the same 2-D product with 15-20% less time per call than matmul's gufunc dispatch
        # (23 vs 27 us measured on an H100 host), which a step loop pays once per step
        self.product = np.matmul if self.xp is np else self.xp.dot

    def __call__(self, a: Any, out: Any) -> Any:
        return self.product(a, self.weight, out=out)


class PackedWeight:
    """``out = a @ rows^T`` by the packed micro-kernel; ``rows`` (N, K) or (G, n, K) (N = G n, e.g.
    an LSTM's four gates' rows for some hidden units), packed once here."""

    def __init__(self, rows: np.ndarray, compiled: dict[str, Any]):
        rows3 = rows if rows.ndim == 3 else rows[None]
        self.columns, self.depth = rows3.shape[0] * rows3.shape[1], rows3.shape[2]
        self.product = compiled["product"]
        self.packed = np.empty((-(-self.columns // NR), self.depth, NR), dtype=np.float32)
        if rows3.strides[2] <= rows3.strides[1]:
            compiled["pack_rows"](rows3, self.packed)
        else:  # columns run along memory (W_hh[:, units] for dZ W_hh): NumPy copies panels of NR
            weight = rows3.reshape(self.columns, self.depth).T  # (K, N)
            full = self.columns // NR
            self.packed[:full] = weight[:, :full * NR].reshape(self.depth, full, NR).transpose(1, 0, 2)
            if self.columns % NR:
                self.packed[full] = 0
                self.packed[full, :, :self.columns % NR] = weight[:, full * NR:]

    def __call__(self, a: np.ndarray, out: np.ndarray) -> np.ndarray:
        if (a.ndim != 2 or a.shape[1] != self.depth or out.shape != (a.shape[0], self.columns)
                or out.dtype != np.float32 or out.strides[1] != 4):
            raise ValueError(f"packed product: a {a.shape} and out {out.shape} {out.dtype} (float32, rows "
                             f"contiguous) do not fit a weight of {self.columns} x {self.depth}")
        self.product(a, self.packed, self.columns, DEPTH_BLOCK, out)
        return out


def pack(rows: Any, batch: int) -> BlasWeight | PackedWeight:
    """The weight ``rows`` (N, K) or (G, n, K) ready for ``batch``-row products ``out = a @ rows^T``
    (``weight(a, out)``), packed for the micro-kernel where it is faster (module docstring), else a
    BLAS copy."""
    compiled = None
    if (vector_math.USE_NUMBA and type(rows) is np.ndarray and rows.dtype == np.float32 and batch >= 2
            and rows.size and cpu_suits()):
        compiled = _kernels()
    return BlasWeight(rows) if compiled is None else PackedWeight(rows, compiled)
