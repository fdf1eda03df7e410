"""Reproduce Table 5 of the MAJL paper: U/R × C/H × {pipeline, naive joint, MAJL-Stage I, MAJL}.

    python scripts/reproduce_table5.py --mir1k /data/MIR-1K --musdb18 /data/MUSDB18-HQ \\
        --mirst500-audio /data/MIR-ST500/audio --mirst500-notes /data/MIR-ST500/MIR-ST500_corrected.json \\
        --output-dir outputs/table5                          # every row, the paper's settings
    python scripts/reproduce_table5.py ... --rows R-C        # one backbone pair (4 rows)
    python scripts/reproduce_table5.py ... --rows stage1 R-C/majl --set training.num_epochs=50
    python scripts/reproduce_table5.py ... --scale toy       # tiny networks, a few steps per row
    python scripts/reproduce_table5.py ... --measure 3       # the data path and 3 training steps of R-C

Each row is trained with the package's trainer (scripts/train.py's machinery; stage II with the
pseudo-labels of scripts/pseudo_label.py) and evaluated with scripts/evaluate.py's runner on the
whole MIR-1K test clips. <output-dir>/table5.md and table5.json hold the table in the paper's
layout, the paper's numbers beside ours and the difference; they are rewritten after each row.
Run the same command again after a crash: finished rows are kept, a row killed mid-training
continues from its newest checkpoint. Settings: configs/table5/{paper,toy}.yaml (or --config).
"""

from __future__ import annotations

import argparse
import json
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--mir1k", required=True, help="the MIR-1K folder (Wavfile/, PitchLabel/)")
    p.add_argument("--medleydb", default=None, help="the MedleyDB folder (recorded; Table 5's rows read MIR-1K)")
    p.add_argument("--musdb18", default=None, help="the MUSDB18(-HQ) folder (train/, test/): MAJL rows")
    p.add_argument("--mirst500-audio", default=None, help="the MIR-ST500 audio folder: MAJL rows")
    p.add_argument("--mirst500-notes", default=None, help="MIR-ST500_corrected.json: MAJL rows")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--rows", nargs="+", default=None,
                   help="all (default), a pair (U-H R-H U-C R-C), a method (pipeline naive stage1 majl), pair/method")
    p.add_argument("--scale", choices=("toy", "paper"), default="paper", help="configs/table5/<scale>.yaml")
    p.add_argument("--config", default=None, help="a Table 5 settings file instead of --scale's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting (dotted keys, YAML values), e.g. training.num_epochs=50")
    p.add_argument("--device", default=None, help="torch device of the evaluation (default: accelerator, else cpu)")
    p.add_argument("--allow-config-change", action="store_true",
                   help="continue a run whose table5_config.yaml holds other settings")
    p.add_argument("--measure", type=int, default=None, metavar="STEPS",
                   help="only measure the data path (dataset build, a DataLoader epoch, peak RSS) and STEPS "
                   "training steps of --measure-row, into <output-dir>/measure; print JSON")
    p.add_argument("--measure-row", default="R-C/stage1", help="the row whose data path --measure uses")
    p.add_argument("--quiet", action="store_true", help="warnings only, no progress bars")
    return p


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    from majl_hf.training.launch import setup_script_logging

    setup_script_logging(ns.quiet)
    from majl_hf.training.table5 import CorpusPaths, Table5Runner, load_table5_config, measure_data_path

    overrides = list(ns.set)
    if ns.quiet:
        overrides.append("training.progress_bar=false")
    config = load_table5_config(ns.scale, ns.config, overrides)
    paths = CorpusPaths(mir1k=ns.mir1k, musdb18=ns.musdb18, mirst500_audio=ns.mirst500_audio,
                        mirst500_notes=ns.mirst500_notes, medleydb=ns.medleydb)
    if ns.measure is not None:
        pair, method = ns.measure_row.split("/")
        from pathlib import Path

        report = measure_data_path(config, paths, Path(ns.output_dir) / "measure", pair=pair, method=method,
                                   train_steps=ns.measure)
        print(json.dumps(report, indent=2))
        return 0
    runner = Table5Runner(config, paths, ns.output_dir, device=ns.device, progress=not ns.quiet,
                          allow_config_change=ns.allow_config_change)
    runner.run(ns.rows)
    print((runner.output_dir / "table5.md").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
