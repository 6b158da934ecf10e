"""One module per on-disk format, each behind :class:`ckptctl.reader.Checkpoint`.

:mod:`ckptctl.bundle` reads TensorFlow's tensor bundle (TF2 and TF1 V2 checkpoints,
SavedModel variables); :mod:`.keras_h5` reads Keras 3's saving layout (``.weights.h5``,
sharded ``.weights.json``, ``.keras`` archives).
"""
