"""ckptctl's C extensions, built where a C compiler is found: the decoders of ckptctl._scan
(ckptctl/_scan.c) and the checksum and statistics kernels of ckptctl._kernels (_kernels.c).

Everything else is declared in pyproject.toml. The extensions are optional: without a
compiler, the install still succeeds, and ckptctl reads every file with its Python decoders
(slower on checkpoints of many thousands of values, the same results).
"""

import sys

from setuptools import Extension, setup

WARNINGS = [] if sys.platform == "win32" else ["-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension("ckptctl._scan", ["ckptctl/_scan.c"], optional=True, extra_compile_args=WARNINGS),
        Extension(
            "ckptctl._kernels", ["ckptctl/_kernels.c"], optional=True, extra_compile_args=WARNINGS
        ),
    ]
)
