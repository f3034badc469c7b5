"""Errors a user can fix, and the exit statuses of the ``pafpose`` commands.

The CLI prints errors as one line naming the offending thing and exits with a status that says
which kind of failure it was, so scripts and requeue loops can tell them apart.
"""

#: Everything done.
EXIT_OK = 0
#: The command ran but part of its work failed: inputs of ``infer``/``eval`` that could not be
#: processed (the others were), or ``train`` stopped by a non-finite loss (last good checkpoint kept).
EXIT_FAILED = 1
#: Bad input or usage: options, a missing or corrupt file, a malformed config or annotation.
EXIT_USAGE = 2
#: The operating system refused a read or write: a full disk, a read-only or unwritable folder,
#: an ``--out`` under a file (sysexits' EX_IOERR).
EXIT_OS_ERROR = 74
#: ``train`` stopped by Ctrl-C or SIGTERM after saving a checkpoint: run it again with
#: ``--resume`` (sysexits' EX_TEMPFAIL).
EXIT_RESUMABLE = 75
#: Stopped by Ctrl-C (128 + SIGINT); finished outputs are kept.
EXIT_INTERRUPTED = 130
#: The reader of the output went away (``pafpose eval | head``; 128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141
#: Stopped by SIGTERM (128 + SIGTERM, e.g. ``timeout`` or a scheduler); finished outputs are kept.
EXIT_TERMINATED = 143

#: The table the CLI's help and the README show.
EXIT_STATUS_HELP = f"""\
exit status:
  {EXIT_OK:>3}  done
  {EXIT_FAILED:>3}  part of the work failed (inputs that could not be processed; train: a non-finite loss)
  {EXIT_USAGE:>3}  bad input or usage (options, missing or corrupt files, malformed configs)
  {EXIT_OS_ERROR:>3}  the system refused a read or write (full disk, read-only or unwritable folder)
  {EXIT_RESUMABLE:>3}  train stopped by Ctrl-C/SIGTERM with a checkpoint saved: run again with --resume
  {EXIT_INTERRUPTED:>3}  interrupted by Ctrl-C (finished outputs kept)
  {EXIT_BROKEN_PIPE:>3}  the output pipe was closed (e.g. | head)
  {EXIT_TERMINATED:>3}  terminated by SIGTERM (finished outputs kept)
"""


class UserError(ValueError):
    """Bad input: a missing or corrupt file, a malformed annotation, an unknown option."""
