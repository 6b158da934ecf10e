"""``python -m ckptctl``."""

from ckptctl.cli.app import run

if __name__ == "__main__":
    run()
