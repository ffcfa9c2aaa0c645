"""The CRNN written directly in PyTorch: the peer that ``scripts/bench_crnn.py`` measures
kerasseq against. Benchmark-only; needs ``torch`` (the ``torch`` extra), not Keras.

Same network as :func:`kerasseq.ocr.recognizer.build_crnn` for a preset: the 7 convolutions,
poolings and batch normalisations of :func:`kerasseq.ocr.presets.conv_stages`, 2 bidirectional LSTMs, a softmax layer, and
``torch.nn.CTCLoss``. Images are NCHW (batch, 1, 32, 128), PyTorch's native layout. It runs
on the GPU when PyTorch sees one (CUDA), else on the CPU.
"""

import torch
from torch import nn

from kerasseq.ocr.presets import conv_stages


def peer_device():
    """``"cuda"`` where PyTorch sees a GPU, else ``"cpu"``: where the peer runs."""
    return "cuda" if torch.cuda.is_available() else "cpu"


class TorchCRNN(nn.Module):
    """(batch, 1, 32, 128) float images -> (31, batch, classes) float32 log-probabilities;
    ``bfloat16``: computed under ``torch.autocast`` in bfloat16 (weights stay float32), as
    kerasseq's ``mixed_bfloat16`` precision, the log-softmax in float32 for the CTC loss."""

    def __init__(self, architecture, num_classes, bfloat16=False):
        super().__init__()
        self.bfloat16 = bfloat16
        layers, channels = [], 1
        for stage in conv_stages(architecture):
            layers += [nn.Conv2d(channels, stage.filters, stage.kernel, padding=1 if stage.same_padding else 0), nn.ReLU()]
            if stage.batchnorm:
                layers.append(nn.BatchNorm2d(stage.filters))
            if stage.pool:
                layers.append(nn.MaxPool2d(stage.pool))
            channels = stage.filters
        self.features = nn.Sequential(*layers)
        units = architecture["lstm_units"]
        self.lstm1 = nn.LSTM(channels, units, bidirectional=True)
        self.lstm2 = nn.LSTM(2 * units, units, bidirectional=True)
        self.dropout = nn.Dropout(architecture["dropout"])
        self.classes = nn.Linear(2 * units, num_classes)

    def forward(self, images):
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.bfloat16):
            x = self.features(images).squeeze(2).permute(2, 0, 1)  # (31, batch, filters)
            x, _ = self.lstm1(self.dropout(x))
            x, _ = self.lstm2(self.dropout(x))
            x = self.classes(x)
        return x.float().log_softmax(-1)


def peer_step_times(architecture, num_classes, canvases, labels, steps, train=True, bfloat16=False):
    """Seconds per step of ``steps`` training steps (Adam + CTC) or inference passes of the
    peer on one batch: canvases (batch, 32, 128, 1) uint8, labels (batch, L) int, 0-padded.
    Each step does the work a kerasseq step does: a training batch comes from host memory
    as float32 scaled to [0, 1] (as kerasseq's loader hands it to ``fit``); an inference
    batch comes as uint8, is scaled on the device, and its output goes back to host memory
    (as kerasseq's reading path does; on a CPU the copies are no-ops). On a GPU each
    step's time runs until the GPU has finished it."""
    import time

    device = peer_device()
    model = TorchCRNN(architecture, num_classes, bfloat16).to(device)
    host_canvases = torch.from_numpy(canvases).permute(0, 3, 1, 2).contiguous()
    host_images = host_canvases.float() / 255
    host_targets = torch.from_numpy(labels).long()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    times = []
    model.train(train)
    for _ in range(steps):
        start = time.perf_counter()
        if train:
            inputs, targets = host_images.to(device), host_targets.to(device)
            log_probabilities = model(inputs)
            input_lengths = torch.full((len(inputs),), log_probabilities.shape[0], dtype=torch.long)
            loss = ctc(log_probabilities, targets, input_lengths, (targets > 0).sum(1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            with torch.inference_mode():
                model(host_canvases.to(device).float() / 255).cpu()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times
