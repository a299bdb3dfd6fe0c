#!/usr/bin/env python3
"""Regenerates the SIMD fp32 GEMM microkernels from f32-gemm.c.in.

    python3 native/src/kernels/gen/gen_gemm.py

Writes native/src/kernels/f32-gemm-<MR>x<NR>-<isa>.c for every tile below; the
outputs are committed (the build does not need Python). CMake compiles each
file with the flags its -<isa>.c suffix asks for. After changing a tile list,
update the variant table in f32-gemm-config.c and kernels.h.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xngen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELS = os.path.dirname(HERE)

# (MR, NR, ISA). AVX2 has 16 vector registers: 6x16 uses 12 accumulators + 2
# B vectors + 1 broadcast. AVX-512 has 32: 8x32 uses 16 + 2 (the broadcast is
# an FMA memory operand); 14x32 uses 28 + 2.
TILES = [
    (6, 16, "avx2"),
    (6, 32, "avx512"),
    (8, 32, "avx512"),
    (12, 32, "avx512"),
    (14, 32, "avx512"),
]


def main() -> int:
    with open(os.path.join(HERE, "f32-gemm.c.in")) as f:
        template = f.read()
    for mr, nr, isa in TILES:
        text = xngen.expand(template, {"MR": mr, "NR": nr, "ISA": isa})
        path = os.path.join(KERNELS, f"f32-gemm-{mr}x{nr}-{isa}.c")
        with open(path, "w") as f:
            f.write(text)
        print(os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
