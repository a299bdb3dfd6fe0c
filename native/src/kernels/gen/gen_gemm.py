#!/usr/bin/env python3
"""Regenerates the SIMD fp32 GEMM microkernels: x86 ones from f32-gemm.c.in,
aarch64 NEON ones from f32-gemm-neon.c.in.

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
# an FMA memory operand); 14x32 uses 28 + 2; 7x32 (14 + 2) is the
# pixel-major tile for planes of 7 x 7 (49 rows: seven whole tiles); 8x16
# (8 + 1) is 8x32's half-width twin for the last pixel strip of a plane
# (196 = 6 x 32 + 4 pixels: 16 lanes instead of 32 for the last 4). 5x16
# (10 + 2 + 1) is AVX2's pixel-major tile: rows of 5 pad the 7 x 2^k planes
# and rows of CNNs less than 6 do (49 -> 50, 14 -> 15 per output row).
TILES = [
    (5, 16, "avx2"),
    (6, 16, "avx2"),
    (6, 32, "avx512"),
    (7, 32, "avx512"),
    (8, 16, "avx512"),
    (8, 32, "avx512"),
    (12, 32, "avx512"),
    (14, 32, "avx512"),
]

# The pixel-major tiles also get igemm variants (A read from a padded image
# through per-tap offsets: convolutions without im2col), for horizontal
# strides 1 and 2.
INDIRECT_TILES = [
    (5, 16, "avx2"),
    (7, 32, "avx512"),
    (14, 32, "avx512"),
]

# NEON (aarch64) has 32 registers of 4 floats: 8x8 uses 16 accumulators + 2 B
# vectors + 2 A vectors; 6x16 uses 24 + 4 + 2 (one A vector is a 64-bit half).
NEON_TILES = [
    (8, 8),
    (6, 16),
]


def neon_a_groups(mr: int) -> list[tuple[int, int]]:
    """The loads of one k step's MR panel values, as (first row, count): whole
    q registers of 4, then a d register of 2, then one broadcast value."""
    groups = [(start, 4) for start in range(0, mr - mr % 4, 4)]
    start = mr - mr % 4
    if mr % 4 >= 2:
        groups.append((start, 2))
        start += 2
    if mr % 2:
        groups.append((start, 1))
    return groups


def main() -> int:
    with open(os.path.join(HERE, "f32-gemm.c.in")) as f:
        template = f.read()
    for mr, nr, isa in TILES:
        indirect = (mr, nr, isa) in INDIRECT_TILES
        text = xngen.expand(template, {"MR": mr, "NR": nr, "ISA": isa, "INDIRECT": indirect})
        path = os.path.join(KERNELS, f"f32-gemm-{mr}x{nr}-{isa}.c")
        with open(path, "w") as f:
            f.write(text)
        print(os.path.relpath(path))
    with open(os.path.join(HERE, "f32-gemm-neon.c.in")) as f:
        template = f.read()
    for mr, nr in NEON_TILES:
        assert nr % 4 == 0, "NEON tiles are whole vectors of 4 floats wide"
        text = xngen.expand(template, {"MR": mr, "NR": nr, "A_GROUPS": neon_a_groups(mr)})
        path = os.path.join(KERNELS, f"f32-gemm-{mr}x{nr}-neon.c")
        with open(path, "w") as f:
            f.write(text)
        print(os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
