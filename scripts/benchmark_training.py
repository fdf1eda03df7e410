"""Training throughput (samples/s) of naive joint learning vs DWHS, side by side, from one run.

python scripts/benchmark_training.py                       # tiny preset, CPU-friendly
python scripts/benchmark_training.py --preset small --batch-size 8 --segment-s 2 --threads 1
python scripts/benchmark_training.py --preset paper --batch-size 16 --segment-s 3   # on a GPU
"""

import argparse
import json
import sys


def main(argv=None) -> int:
    from majl_hf.training.benchmark import PRESETS

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--model-config", help="a JSON MajlConfig (separator_config, pitch_config) instead of a preset")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--segment-s", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=3, help="steps per method per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", help="cpu, cuda … (default: cuda when available)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--json", action="store_true", help="print the result as JSON too")
    ns = p.parse_args(argv)

    import torch

    from majl_hf.training.benchmark import benchmark_training, format_benchmark

    if ns.threads:
        torch.set_num_threads(ns.threads)
    result = benchmark_training(
        json.loads(ns.model_config) if ns.model_config else ns.preset,
        batch_size=ns.batch_size,
        segment_s=ns.segment_s,
        steps_per_round=ns.steps,
        rounds=ns.rounds,
        warmup_steps=ns.warmup,
        device=ns.device,
    )
    print(format_benchmark(result))
    if ns.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
