#!/usr/bin/python3
"""A loss plane in PyTorch on the CPU, one point at a time, as the Python landscape tools
(loss-landscapes, Li et al.'s loss-landscape) evaluate one: for each point the parameters are set
to θ + α·d1 + β·d2 and the model's forward runs over every evaluation sample. The weights, the
directions and the data are losscape's own: a checkpoint (safetensors with its JSON sidecar, the
model config), the direction files `losscape landscape` writes (OUT.d1/d2.safetensors, keyed by
parameter name; parameters they lack stay fixed), and MNIST's test images from IDX files,
normalized as losscape normalizes them ((v/255 − 0.1307)/0.3081, in float32).

    /usr/bin/python3 bench/torch_landscape.py --checkpoint ckpt.safetensors --d1 out.d1.safetensors \\
        --d2 out.d2.safetensors --mnist DIR --samples 1000 --points "-1,-1;0,0;0.5,1" [--out result.json]

DIR holds t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (gzipped or not). Prints, and writes as
JSON, each point's mean loss and accuracy, the seconds the loop took (the model's forward and the
parameter updates only: loading is not timed), the BLAS library torch loaded and its threading
(OMP_WAIT_POLICY=PASSIVE keeps idle OpenMP threads from spinning: on a small shared machine the
difference is large, so bench/bench.ts times both). Needs torch (Debian: python3-torch); the models
are plain torch with losscape's parameter names (ViT and ResNet from test/fixtures/make_torch.py).
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))
from make_torch import ResNet, ViT  # noqa: E402

DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64, 'I32': torch.int32}


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        buf = bytearray(raw[8 + n + a:8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=DTYPES[info['dtype']]).reshape(info['shape']) if b > a else torch.zeros(info['shape'], dtype=DTYPES[info['dtype']])
    return out


def build(c):
    """losscape's models (src/nn/simple.ts, vit.ts, resnet.ts) with their parameter names."""
    if c['kind'] == 'mlp':
        s = c['sizes']
        layers = [nn.Flatten()]
        for i in range(len(s) - 1):
            layers.append(nn.Linear(s[i], s[i + 1]))
            if i + 2 < len(s):
                layers.append(nn.ReLU())
        return nn.ModuleDict({'layers': nn.Sequential(*layers)}), lambda m, x: m['layers'](x)
    if c['kind'] == 'cnn':
        w1, w2 = c['widths']
        flat = w2 * (c['imageSize'] // 4) ** 2
        m = nn.ModuleDict({
            'features': nn.Sequential(nn.Conv2d(c['channels'], w1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(w1, w2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
            'classifier': nn.Sequential(nn.Flatten(), nn.Linear(flat, c['hidden']), nn.ReLU(), nn.Linear(c['hidden'], c['classes'])),
        })
        return m, lambda m, x: m['classifier'](m['features'](x))
    if c['kind'] == 'vit':
        return ViT(c), lambda m, x: m(x)
    if c['kind'] == 'resnet':
        return ResNet(c), lambda m, x: m(x)
    raise SystemExit(f'torch_landscape: unknown model kind {c["kind"]!r}')


def read_idx(path):
    opener = gzip.open if open(path, 'rb').read(2) == b'\x1f\x8b' else open
    with opener(path, 'rb') as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack('>' + 'I' * dims, raw[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def mnist_test(folder, samples):
    find = lambda stem: next(os.path.join(folder, f) for f in (stem, stem + '.gz') if os.path.exists(os.path.join(folder, f)))
    images = read_idx(find('t10k-images-idx3-ubyte'))[:samples]
    labels = read_idx(find('t10k-labels-idx1-ubyte'))[:samples].long()
    x = ((images.double() / 255 - 0.1307) / 0.3081).float().unsqueeze(1)
    return x, labels


def blas_info():
    libs = []
    try:
        with open('/proc/self/maps') as f:
            libs = sorted({line.split()[-1] for line in f if any(k in line for k in ('blas', 'mkl', 'gomp', 'omp.so'))})
    except OSError:
        pass
    config = [line.strip() for line in torch.__config__.show().splitlines() if 'BLAS' in line or 'MKL' in line or 'OpenMP' in line]
    return {'libraries': libs, 'config': config, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
            'OMP_WAIT_POLICY': os.environ.get('OMP_WAIT_POLICY'), 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS')}


def main():
    p = argparse.ArgumentParser(description='a loss plane in PyTorch, one point at a time')
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--d1', required=True)
    p.add_argument('--d2')
    p.add_argument('--mnist', required=True, help='folder with the MNIST test IDX files')
    p.add_argument('--samples', type=int, default=1000)
    p.add_argument('--batch-size', type=int, default=1000)
    p.add_argument('--points', required=True, help='"x,y;x,y;..." (a line: "x;x;...")')
    p.add_argument('--out')
    a = p.parse_args()

    config = json.load(open(a.checkpoint + '.json'))['config']
    model, forward = build(config)
    model.load_state_dict({k: v for k, v in read_safetensors(a.checkpoint).items()}, strict=True)
    model.eval()
    d1 = read_safetensors(a.d1)
    d2 = read_safetensors(a.d2) if a.d2 else {}
    x, y = mnist_test(a.mnist, a.samples)
    points = [[float(v) for v in pt.split(',')] for pt in a.points.split(';')]
    params = dict(model.named_parameters())
    origin = {k: v.detach().clone() for k, v in params.items()}

    # the loop the tools run: set the parameters, then the whole evaluation set through the model
    results = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for pt in points:
            alpha, beta = pt[0], (pt[1] if len(pt) > 1 else 0.0)
            for name, t in params.items():
                w = origin[name]
                if name in d1:
                    w = w + alpha * d1[name]
                if name in d2:
                    w = w + beta * d2[name]
                t.copy_(w)
            loss, correct = 0.0, 0
            for i in range(0, len(y), a.batch_size):
                logits = forward(model, x[i:i + a.batch_size])
                loss += F.cross_entropy(logits, y[i:i + a.batch_size], reduction='sum').item()
                correct += (logits.argmax(1) == y[i:i + a.batch_size]).sum().item()
            results.append([*pt, loss / len(y), correct / len(y)])
    seconds = time.perf_counter() - t0

    out = {'points': results, 'seconds': seconds, 'pointsPerSecond': len(points) / seconds, 'samples': len(y), 'blas': blas_info()}
    if a.out:
        with open(a.out, 'w') as f:
            json.dump(out, f)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
