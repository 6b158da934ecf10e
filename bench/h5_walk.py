"""The baseline for ``ckptctl inspect FILE.weights.h5``: a bare h5py walk.

Usage: ``python bench/h5_walk.py FILE``. Opens the file with h5py and prints the path, shape,
dtype and size of every dataset, one line each, as a user's own script would.
"""

from __future__ import annotations

import sys

import h5py


def main(path: str) -> int:
    """Print every dataset of the HDF5 file at ``path``."""

    def show(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            print(name, obj.dtype, obj.shape, obj.nbytes)

    with h5py.File(path, "r") as f:
        f.visititems(show)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: h5_walk.py FILE")
    sys.exit(main(sys.argv[1]))
