"""Reading words: the OCR pipeline around the CRNN.

One image is read in this order::

    file -> images.read_gray -> images.fit_to_canvas -> (32, 128) uint8 canvas
         -> inference.predict_probabilities (scales to [0, 1], runs recognizer.Recognizer)
         -> (31, classes) probabilities -> decoding.decode -> text and confidence

:mod:`predictor` ties those steps together for files and arrays; :mod:`charset` holds the
vocabularies, :mod:`ctc_loss` the training loss, :mod:`metrics` and :mod:`evaluation` the
scores, :mod:`export` serving formats, :mod:`sheet` a picture of what was read.
"""
