"""Word-image data: finding labelled sources (:mod:`sources`), the sharded on-disk dataset
format (:mod:`dataset`), a model's record of the fonts it trained on and never saw
(:mod:`font_record`) and streaming the data to ``model.fit`` (:mod:`batches`). Rendering and
preprocessing live in the top-level ``data_prep`` package."""
