"""Measuring kerasseq against its peers: the plain-PyTorch CRNN (:mod:`torch_peer`) and the
speed harness around it (:mod:`crnn_speed`), Tesseract (:mod:`tesseract`) and the readers'
accuracy table (:mod:`readers`), and the task models' speed (:mod:`task_speed`)."""
