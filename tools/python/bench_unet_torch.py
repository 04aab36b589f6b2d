"""Train-step time of the same 1,941,105-parameter U-Net (Keras U-Net starter layout, Mahbod et al. 2019) in PyTorch on the CPU.

Reference for bench/model.bench.ts: identical layers (conv3x3 -> dropout -> conv3x3, ELU, he_normal,
2x2 transposed convolutions, 1x1 output), 0.5 * BCE + soft Dice, Adam, batch 2, NCHW float32.
Usage: bench_unet_torch.py --sizes 256 512 --reps 5. Prints one JSON line: {"<size>": best ms, ...}.
"""

import argparse
import json
import time

import torch
from torch import nn


def block(cin, cout, p):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ELU(), nn.Dropout(p), nn.Conv2d(cout, cout, 3, padding=1), nn.ELU()
    )


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        enc = [(3, 16, 0.1), (16, 32, 0.1), (32, 64, 0.2), (64, 128, 0.2), (128, 256, 0.3)]
        self.enc = nn.ModuleList(block(a, b, p) for a, b, p in enc)
        dec = [(256, 128, 0.2), (128, 64, 0.2), (64, 32, 0.1), (32, 16, 0.1)]
        self.up = nn.ModuleList(nn.ConvTranspose2d(a, b, 2, stride=2) for a, b, _ in dec)
        self.dec = nn.ModuleList(block(2 * b, b, p) for _, b, p in dec)
        self.out = nn.Conv2d(16, 1, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        skips = []
        for i, b in enumerate(self.enc):
            x = b(x)
            if i < 4:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for up, b in zip(self.up, self.dec):
            x = b(torch.cat([up(x), skips.pop()], 1))
        return self.out(x)


def loss_fn(logits, y):
    bce = nn.functional.binary_cross_entropy_with_logits(logits, y)
    p = torch.sigmoid(logits)
    dice = (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    return 0.5 * bce + 1 - dice


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    net = UNet()
    n_params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert n_params == 1_941_105, n_params
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "params": n_params}
    for s in a.sizes:
        x = torch.rand(2, 3, s, s)
        y = (torch.rand(2, 1, s, s) > 0.5).float()
        times = []
        for i in range(a.reps + 1):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            loss.item()
            if i > 0:
                times.append((time.perf_counter() - t0) * 1000)
        out[str(s)] = min(times)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
