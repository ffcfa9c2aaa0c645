"""Starting a run from a trained recogniser's weights (``train_crnn.py --init-from``).

Fine-tuning goes on from a saved reader, the shipped one or a run's, on new data: the
network built for the run takes the saved weights, the optimizer starts afresh. The saved
reader's font record joins the run's, so the run's model still lists every font it has
seen and every one it has not; a validation font the saved reader trained on is refused,
since its accuracy would no longer be held out.
"""

from kerasseq.data.font_record import read_font_record
from kerasseq.errors import DataError
from kerasseq.ocr.predictor import load_recognizer


def load_initial_weights(model, path):
    """Set every weight of the recogniser ``model`` to that of the recogniser saved in
    ``path`` (a ``.keras`` file of the same preset and charset; its precision may differ).
    DataError when the two networks or charsets differ; ModelError when ``path`` is not a
    recogniser."""
    source = load_recognizer(path)
    if source.charset.characters != model.charset.characters:
        raise DataError(f"{path} reads the charset {source.charset.characters!r}, the data {model.charset.characters!r}: "
                        "fine-tuning needs the same characters")
    try:
        model.set_weights(source.get_weights())  # Keras checks the count and shape of every weight
    except ValueError:
        raise DataError(f"{path} is another network than the run's {model.name} (pass the --preset it was trained with)") from None


def fine_tuned_record(data_fonts, path):
    """The font record of a run on data with fonts ``data_fonts`` ((training names, held-out
    names) or None) that starts from the model in ``path``: (training names, held-out
    names), each joined with the saved model's, less the held-out fonts the run trains on;
    None when either record is unknown. DataError when a held-out font of the data is one
    the saved model trained on."""
    start = read_font_record(path)
    if data_fonts is None or start is None:
        return None
    seen = set(start[0])
    overlap = sorted(seen & set(data_fonts[1]))
    if overlap:
        raise DataError(f"{len(overlap)} validation font(s) of the data, {overlap[0]} first, trained the model in {path}; "
                        "render with --holdout-list beside it (its .heldout.txt) so the validation stays unseen")
    training = seen | set(data_fonts[0])
    return sorted(training), sorted((set(start[1]) | set(data_fonts[1])) - training)
