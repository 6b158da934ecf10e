"""The text of ``ckptctl --help`` at 80 columns or more, as the Typer application prints it
(``tests/cli/test_terminal.py`` checks that it still is, and prints the new text when not):
:mod:`ckptctl.cli.app` prints it without importing Typer."""

TEXT = """\
Usage: ckptctl [OPTIONS] COMMAND [ARGS]...

  Know what is in a TensorFlow checkpoint, and prove your model code restores
  it.

Options:
  --version   Print the version.
  -h, --help  Show this message and exit.

Commands:
  inspect  Show what a checkpoint holds: values, shapes, dtypes, sizes,...
  restore  Restore a checkpoint into your model and prove it restored...
  diff     Compare two checkpoints value by value: exit 0 if equal, 1 if...
  migrate  Rewrite a checkpoint in the model's current structure,...
  trend    What a training run did to each value, checkpoint by checkpoint.
"""
