"""A hardened autograder for the course's nbgrader exercises.

Student code runs in a sandboxed process; test code (from the instructor's source notebook) runs
in a separate trusted process and reaches the student's functions only through a data-only RPC
channel.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
