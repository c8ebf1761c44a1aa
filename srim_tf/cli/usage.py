"""`--help` for the programs: the program's own flags with their defaults, exit status 0.

absl's --help lists only the key flags of `__main__` (the bin/ script, which defines none)
and exits 1; ours lists the flags of the program module (and those it adopts).
"""

import os
import sys

from absl import flags

HELP_ARGS = ("--help", "-help", "-h", "-?", "--helpshort", "-helpshort")


def help_text(module_name):
    """The module's docstring, then its key flags with help and default."""
    module = sys.modules[module_name]
    flag_lines = [line for line in flags.FLAGS.module_help(module_name).splitlines()
                  if line.strip() and line != f"{module_name}:"]
    return "\n".join([module.__doc__.strip(), "", "Flags (absl's own: --helpfull):",
                      *flag_lines])


def answer_help(module_name, argv=None):
    """Prints the help of `module_name` and exits 0 when `argv` asks for help."""
    argv = sys.argv if argv is None else argv
    if any(arg in HELP_ARGS for arg in argv[1:]):
        try:
            print(help_text(module_name), flush=True)
        except BrokenPipeError:
            # The reader stopped early (`| head`): not an error. Stdout goes to devnull so
            # Python's final flush does not print a traceback either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
