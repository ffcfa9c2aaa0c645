"""Training a recogniser: the loop and its configuration (:mod:`trainer`), its callbacks
(:mod:`callbacks`), resumable commits (:mod:`resume`), data-parallel devices
(:mod:`distribute`), starting from a saved reader (:mod:`fine_tuning`) and learning curves against CPU-hours (:mod:`learning_curves`)."""
