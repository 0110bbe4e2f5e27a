"""Build only the Cython kernels; all metadata lives in pyproject.toml.

Each ``ext/<name>.pyx`` becomes the private module ``rexopt.<name>``.  Set
``REXOPT_DEBUG_BUILD=1`` to compile with bounds checking on.
"""

import os
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

debug = os.environ.get("REXOPT_DEBUG_BUILD", "") == "1"
directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "cdivision": not debug,
    "initializedcheck": debug,
}
extensions = [
    Extension(
        f"rexopt.{pyx.stem}",
        [str(pyx)],
        include_dirs=[np.get_include(), "ext"],
        depends=[str(h) for h in sorted(Path("ext").glob("*.h"))],
        extra_compile_args=["-O3"] if not debug else ["-O0", "-g"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for pyx in sorted(Path("ext").glob("*.pyx"))
]

# flowsheets/ lives at the top of the repository (it reads like the process
# diagrams) and is installed as rexopt.flowsheets
packages = find_packages(include=["rexopt", "rexopt.*"]) + ["rexopt.flowsheets"]
setup(
    packages=packages,
    package_dir={"rexopt.flowsheets": "flowsheets"},
    ext_modules=cythonize(extensions, compiler_directives=directives),
)
