"""What needs no TensorFlow does not import it: `ckptctl --help` and locating a checkpoint.

Each check runs in a fresh interpreter, since this test session itself imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ckptctl import speedups
from tests.fresh import run_fresh


def test_help_does_not_import_tensorflow() -> None:
    out = run_fresh(
        """
        import json, sys
        import ckptctl, ckptctl.cli.app
        from typer.testing import CliRunner
        runner = CliRunner()
        codes = [runner.invoke(ckptctl.cli.app.app, args).exit_code
                 for args in (["--help"], ["inspect", "--help"], ["restore", "--help"],
                              ["--version"])]
        print(json.dumps({"codes": codes, "tf": "tensorflow" in sys.modules,
                          "keras": "keras" in sys.modules}))
        """
    )
    assert out == {"codes": [0, 0, 0, 0], "tf": False, "keras": False}


def test_main_help_does_not_import_tensorflow() -> None:
    out = run_fresh(
        """
        import json, sys
        from ckptctl.cli.app import main
        sys.argv = ["ckptctl", "--help"]
        try:
            main()
        except SystemExit as e:
            code = e.code
        print()
        print(json.dumps({"code": code, "tf": "tensorflow" in sys.modules,
                          "numpy": "numpy" in sys.modules}))
        """
    )
    # Not even numpy: `ckptctl --help` is the command people run most.
    assert out == {"code": 0, "tf": False, "numpy": False}


def test_importing_every_module_does_not_import_tensorflow() -> None:
    out = run_fresh(
        """
        import importlib, json, pkgutil, sys
        import ckptctl
        names = sorted(m.name for m in pkgutil.walk_packages(ckptctl.__path__, "ckptctl."))
        for name in names:
            if name != "ckptctl.__main__":
                importlib.import_module(name)
        print(json.dumps({"modules": names, "tf": "tensorflow" in sys.modules}))
        """
    )
    assert out["tf"] is False
    assert "ckptctl.tfbackend" in out["modules"]
    assert "ckptctl.cli.inspect_cmd" in out["modules"]


def test_locate_does_not_import_tensorflow(samples_dir: Path, saved_model_dir: Path) -> None:
    out = run_fresh(
        """
        import json, sys
        import ckptctl
        from ckptctl.location import locate
        found = [str(locate(p).prefix) for p in sys.argv[1:]]
        print(json.dumps({"found": found, "tf": "tensorflow" in sys.modules}))
        """,
        str(samples_dir / "my_model"),
        str(samples_dir / "my_model" / "ckpt-2.index"),
        str(saved_model_dir),
    )
    assert out["tf"] is False
    assert out["found"] == [
        str(samples_dir / "my_model" / "ckpt-3"),
        str(samples_dir / "my_model" / "ckpt-2"),
        str(saved_model_dir / "variables" / "variables"),
    ]


def test_local_inspect_and_diff_load_no_tensorflow_and_no_storage_library(
    samples_dir: Path,
) -> None:
    """Object storage's libraries (fsspec, s3fs, botocore) load for a URL only."""
    out = run_fresh(
        """
        import json, sys
        from typer.testing import CliRunner
        from ckptctl.cli.app import app
        d = sys.argv[1]
        runner = CliRunner()
        codes = [runner.invoke(app, args).exit_code for args in (
            ["inspect", d, "--stats", "--json"], ["diff", d + "/ckpt-3", d, "--json"])]
        names = ["tensorflow", "keras", "fsspec", "s3fs", "gcsfs", "botocore", "aiobotocore",
                 "boto3"]
        print(json.dumps({"codes": codes, "loaded": [n for n in names if n in sys.modules]}))
        """,
        str(samples_dir / "my_model"),
    )
    assert out == {"codes": [0, 0], "loaded": []}


def test_a_bad_path_is_reported_without_importing_tensorflow(tmp_path: Path) -> None:
    """Nothing to read, so nothing to import: the error comes from locate alone."""
    out = run_fresh(
        """
        import json, sys
        from typer.testing import CliRunner
        from ckptctl.cli.app import app
        result = CliRunner().invoke(app, ["inspect", sys.argv[1]])
        print(json.dumps({"code": result.exit_code, "tf": "tensorflow" in sys.modules}))
        """,
        str(tmp_path / "nope"),
    )
    assert out["code"] == 3
    assert out["tf"] is False


@pytest.mark.parametrize("command", ["restore", "migrate"])
def test_without_tensorflow_restore_and_migrate_exit_3_with_the_pip_hint(
    samples_dir: Path, tmp_path: Path, command: str
) -> None:
    """README, "Exit codes": 3 when TensorFlow is missing. `sys.modules['tensorflow'] = None`
    makes every `import tensorflow` fail as it does when it is not installed."""
    out = run_fresh(
        """
        import contextlib, io, json, sys
        sys.modules["tensorflow"] = None
        from ckptctl.cli.app import main
        command, checkpoint, dst = sys.argv[1:]
        sys.argv = ["ckptctl", command, checkpoint, "-m", "sample_models.models:MyModel",
                    "--input-shape", "4,20", *(["-o", dst] if command == "migrate" else [])]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main()
            except SystemExit as e:
                code = e.code
        print(json.dumps({"code": code, "stdout": stdout.getvalue(),
                          "stderr": stderr.getvalue()}))
        """,
        command,
        str(samples_dir / "my_model"),
        str(tmp_path / "dst"),
    )
    assert out == {
        "code": 3,
        "stdout": "",
        "stderr": "error: this needs TensorFlow, which could not be imported (import of "
        "tensorflow halted; None in sys.modules)\n"
        "  install it with: pip install 'ckptctl[tensorflow]'  (or 'ckptctl[tensorflow-cpu]')\n",
    }
    assert not (tmp_path / "dst").exists()


HEAVY = ("tensorflow", "keras", "ml_dtypes", "h5py", "fsspec", "plotly")
"""What a float32 checkpoint's `inspect` never needs: TensorFlow and Keras, ml_dtypes (over a
second to import in 0.7), h5py (Keras files), fsspec (remote paths), plotly (trend --html)."""


@pytest.mark.parametrize("options", [[], ["--stats"], ["--json"], ["--stats", "--json"]])
def test_float32_inspect_imports_nothing_heavy(samples_dir: Path, options: list[str]) -> None:
    """Nor numpy: a listing does not read values, and statistics reduce float32 values in the
    kernels and the counters (int64) in Python. numpy's import is 0.1 s, Rich's 0.05 s."""
    out = run_fresh(
        """
        import contextlib, io, json, sys
        from ckptctl.cli.app import main
        names = set(sys.argv.pop().split(","))
        sys.argv = ["ckptctl", "inspect", *sys.argv[1:]]
        with contextlib.redirect_stdout(io.StringIO()) as stdout:
            try:
                main()
            except SystemExit as e:
                code = e.code
        heavy = sorted({m.split(".")[0] for m in sys.modules} & names)
        print(json.dumps({"code": code, "heavy": heavy, "numpy": "numpy" in sys.modules,
                          "rich": "rich" in sys.modules, "out": len(stdout.getvalue())}))
        """,
        str(samples_dir / "my_model"),
        *options,
        ",".join(HEAVY),
    )
    assert out["code"] == 0
    assert out["heavy"] == []
    assert out["numpy"] is ("--stats" in options and not speedups.VECTOR_STATS)
    assert out["rich"] is False  # off a terminal (a StringIO here), nor Rich
    assert out["out"] > 0


@pytest.fixture(scope="module")
def bfloat16_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tensorflow as tf

    module = tf.Module()
    module.half = tf.Variable(tf.constant([1.5, -2.0, 0.0, 4.0], dtype=tf.bfloat16))
    module.full = tf.Variable(tf.constant([1.0, 2.0], dtype=tf.float32))
    return Path(tf.train.Checkpoint(model=module).write(str(tmp_path_factory.mktemp("bf16") / "c")))


def test_ml_dtypes_is_imported_only_to_read_a_value_of_its_types(bfloat16_ckpt: Path) -> None:
    """Listing a bfloat16 value needs only its name; reading it needs ml_dtypes."""
    out = run_fresh(
        """
        import json, sys
        import ckptctl
        listed = ckptctl.inspect(sys.argv[1])
        after_listing = "ml_dtypes" in sys.modules
        read = ckptctl.inspect(sys.argv[1], stats=True)
        stats = {v.path: [v.dtype, v.stats.min, v.stats.max, v.stats.mean, v.stats.zeros]
                 for v in read.variables if v.stats is not None}
        print(json.dumps({"dtypes": {v.path: v.dtype for v in listed.variables},
                          "after_listing": after_listing,
                          "after_reading": "ml_dtypes" in sys.modules,
                          "stats": stats, "tf": "tensorflow" in sys.modules}))
        """,
        str(bfloat16_ckpt),
    )
    assert out["after_listing"] is False
    assert out["after_reading"] is True
    assert out["tf"] is False
    assert out["dtypes"]["model.half"] == "bfloat16"
    assert out["stats"]["model.half"] == ["bfloat16", -2.0, 4.0, 0.875, 0.25]
    assert out["stats"]["model.full"] == ["float32", 1.0, 2.0, 1.5, 0.0]


def test_without_h5py_a_keras_file_is_reported_with_the_pip_hint(tmp_path: Path) -> None:
    """h5py is a dependency, but an environment can lack it (``pip install --no-deps``): a
    Keras file then ends in exit 3 and a message naming it, not an internal error."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    out = run_fresh(
        """
        import contextlib, io, json, sys
        sys.modules["h5py"] = None
        from ckptctl.cli.app import main
        sys.argv = ["ckptctl", "inspect", sys.argv[1]]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main()
            except SystemExit as e:
                code = e.code
        print(json.dumps({"code": code, "stdout": stdout.getvalue(),
                          "stderr": stderr.getvalue()}))
        """,
        str(path),
    )
    assert out == {
        "code": 3,
        "stdout": "",
        "stderr": f"error: {path}: reading a Keras HDF5 file needs h5py, which could not be "
        "imported (import of h5py halted; None in sys.modules)\n"
        "  install it with: pip install h5py\n",
    }
