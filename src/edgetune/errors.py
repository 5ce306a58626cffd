"""User-facing errors: one clear line naming the file, the field and the fix.

Stages raise :class:`EdgetuneError` for anything a user can fix (bad params, bad input file,
missing engine, no network); :func:`edgetune.cli.run_stage` prints it as one line instead of a
traceback from deep inside a library.
"""


class EdgetuneError(Exception):
    """An error the user can act on; its message is the whole explanation."""
