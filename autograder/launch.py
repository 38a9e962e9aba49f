"""Starting the grader's own helper processes with exactly this copy of the package.

``python -m autograder.runner`` would import whatever ``autograder`` the interpreter finds first
(an editable install can point to another checkout). The helpers are started in isolated mode
(``-I``: no environment variables, no user site, no current directory on ``sys.path``) with the
folder that holds THIS package put first on ``sys.path``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["PACKAGE_DIR", "module_command"]

#: The folder of this ``autograder`` package.
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

_BOOT = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv.pop(0); "
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def module_command(module: str, *args: str) -> list[str]:
    """The command line that runs ``module`` (as ``__main__``) from this package's checkout.

    Parameters
    ----------
    module : str
        E.g. ``autograder.runner``.
    *args : str
        Its arguments (``sys.argv[1:]`` in the module).

    Returns
    -------
    list of str
        For :class:`subprocess.Popen`.
    """
    return [sys.executable, "-I", "-c", _BOOT, os.path.dirname(PACKAGE_DIR), module, *args]
