"""nbgrader configuration of the course's exercises (the course directory is this folder).

Used by ``nbgrader`` itself (run from this folder) and by ``autograder`` (any folder), which also
reads its own settings from the ``Autograder`` section below.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when the file is loaded)

c.CourseDirectory.course_id = "how-to-train-your-neurons"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# nbgrader's layout: source/<assignment>/, release/<assignment>/, submitted/<student>/<assignment>/,
# autograded/..., feedback/...; the gradebook is an SQLite file next to this one.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# Stock nbgrader settings (only used when running nbgrader's own commands).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ExecutePreprocessor.timeout = 30

# autograder's settings (command-line options override them).
c.Autograder.timeout = 120  # seconds per submission (all of its cells and tests)
c.Autograder.cell_timeout = 30  # seconds per cell and per call into the student's code
c.Autograder.memory_mb = 1024  # address space of the sandbox
c.Autograder.uid_base = 61000  # sandbox uids when grading as root (must not be real accounts)
