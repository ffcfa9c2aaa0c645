"""Neural arithmetic: the NAC, NALU, NAU and NMU layers (:mod:`layers`) and the NALU
paper's experiments run on them (:mod:`experiments`)."""
