"""Entry point of the frozen app (PyInstaller runs this file as ``__main__``).

The extraction pool re-launches this very executable as ``desktop-search --extract-worker MEM PID GUARD``
(a frozen app has no ``python -m``). That flag is handled first, before argparse, Qt or torch are imported,
so a worker starts as fast as ``python -m desktop_search.core.extract.worker`` does and loads only the
extraction libraries.
"""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "--extract-worker":
    from desktop_search.core.extract.worker import main as _worker_main

    del sys.argv[1]
    sys.exit(_worker_main())

if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # a library that spawns processes must not re-run the app

    from desktop_search.cli import main

    sys.exit(main())
