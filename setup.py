"""The C decoders of ckptctl._scan (ckptctl/_scan.c): built where a C compiler is found.

Everything else is declared in pyproject.toml. The extension is optional: without a
compiler, the install still succeeds, and ckptctl reads every file with its Python decoders
(slower on checkpoints of many thousands of values, the same results).
"""

import sys

from setuptools import Extension, setup

WARNINGS = [] if sys.platform == "win32" else ["-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension("ckptctl._scan", ["ckptctl/_scan.c"], optional=True, extra_compile_args=WARNINGS)
    ]
)
