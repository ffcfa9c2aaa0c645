"""What every kerasseq command-line entry point shares: backend choice and error exits.

Keras-free on purpose: scripts import this first, parse their arguments, select the
backend, and only then import the parts of kerasseq that import Keras.
"""

import argparse
import sys

from kerasseq.backend import add_backend_argument, select_backend
from kerasseq.errors import KerasseqError


def make_parser(description, backend=True, accel=False):
    """An ``argparse`` parser with the script's description and ``--backend``; with
    ``accel`` (scripts that run models), also ``--no-accel``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    if backend:
        add_backend_argument(parser)
    if accel:
        parser.add_argument("--no-accel", action="store_true",
                            help="keep Keras's own backend ops instead of kerasseq's speed routes (kerasseq.accel); "
                                 "KERASSEQ_ACCEL=0 does the same")
    return parser


def parse(parser, argv=None):
    """Parse ``argv``, apply ``--backend`` (when the parser has it) before Keras loads,
    and, for a parser with ``--no-accel``, turn kerasseq's speed routes on unless asked not to."""
    args = parser.parse_args(argv)
    if hasattr(args, "backend"):
        select_backend(args.backend)
    if hasattr(args, "no_accel"):
        from kerasseq import accel

        if accel.wanted(args.no_accel):
            accel.enable()
    return args


def run(main, argv=None):
    """Call ``main(argv)`` and exit with its status; a KerasseqError becomes one line
    on stderr and exit status 2, Ctrl-C exit status 130."""
    try:
        status = main(argv)
    except KerasseqError as error:
        print(f"error: {error}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    sys.exit(status or 0)
