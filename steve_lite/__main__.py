"""``python -m steve_lite``: the ``steve-lite`` command.

``up`` starts its worker this way. A SIGINT that arrives while the command is still importing
ends it quietly; the commands that run servers install their own handlers once started. The
guard matters: the worker's OCR engine processes are spawned, and a spawned child imports the
parent's main module again (as ``__mp_main__``), which must not run the command a second time.
"""

import signal
import sys

if __name__ == "__main__":
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    from steve_lite.cli import main

    main(prog_name="steve-lite")
