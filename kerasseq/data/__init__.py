"""Word-image data: finding labelled sources (:mod:`sources`), the sharded on-disk dataset
format (:mod:`dataset`) and streaming it to ``model.fit`` (:mod:`batches`). Rendering and
preprocessing live in the top-level ``data_prep`` package."""
