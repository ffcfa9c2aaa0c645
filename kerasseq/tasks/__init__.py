"""The classic RNN task models, each a module with ``run(TaskOptions) -> TaskResult``.

``TASKS`` maps the command-line name to (module, RNN kind, one-line description); modules
load on demand so that listing the tasks does not import Keras.
"""

import importlib

TASKS = {
    "kth-digit": ("kth_digit", "many-to-one",
                  "remember the k-th digit (--k, default 3) of one-hot digits, lengths k to --max-length"),
    "binary-add": ("binary_add", "aligned many-to-many", "add two binary numbers bit by bit, LSB first"),
    "hello": ("hello", "aligned many-to-many", 'learn "hihell" -> "ihello" (or --text), --problem onehot|embedding'),
    "names": ("names", "many-to-one", "language of origin of a surname (--data: folder of Language.txt)"),
    "sentiment": ("sentiment", "many-to-one", "5-class phrase sentiment (--data: TSV with Phrase, Sentiment)"),
    "forecast": ("forecast", "many-to-one", "next value of a series (--data CSV --column NAME, or generated)"),
    "seq2seq": ("seq2seq", "unaligned many-to-many", "encoder-decoder, --problem numbers|reverse"),
    "vec2seq": ("vec2seq", "one-to-many", "a one-hot number to its spelled-out word"),
}


def run_task(name, options):
    """Train task ``name`` with ``options`` (a ``TaskOptions``); save ``model.keras`` and
    ``summary.json`` into ``options.out`` when set; return the ``TaskResult``."""
    from kerasseq.errors import KerasseqError
    from kerasseq.tasks.common import save_result

    if name not in TASKS:
        raise KerasseqError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    module = importlib.import_module(f"kerasseq.tasks.{TASKS[name][0]}")
    result = module.run(options)
    save_result(result, options.out)
    return result
