"""Which warnings raised while a user's model runs are kept for the report."""

from __future__ import annotations

import warnings

from ckptctl.caught import catching_warnings

LIBRARY = "/venv/lib/python3.11/site-packages/keras/src/backend/common/variables.py"
USER = "/home/me/project/model.py"


def test_library_deprecations_are_left_out_user_ones_kept() -> None:
    with catching_warnings() as caught:
        warnings.warn_explicit("np.find_common_type is deprecated", DeprecationWarning, LIBRARY, 3)
        warnings.warn_explicit("old_api() is deprecated", DeprecationWarning, USER, 7)
        warnings.warn_explicit("build() was called on layer", UserWarning, LIBRARY, 9)
        warnings.warn_explicit("soon gone", PendingDeprecationWarning, LIBRARY, 11)
    assert [(w.category, w.origin, w.message) for w in caught] == [
        ("DeprecationWarning", "model.py", "old_api() is deprecated"),
        ("UserWarning", "keras", "build() was called on layer"),
    ]
