"""``python -m steve_lite``: the ``steve-lite`` command.

``up`` starts its worker this way. A SIGINT that arrives while the command is still importing
ends it quietly; the commands that run servers install their own handlers once started.
"""

import signal
import sys

signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

from steve_lite.cli import main  # noqa: E402

main(prog_name="steve-lite")
