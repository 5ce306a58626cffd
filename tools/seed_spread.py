"""A stage's metrics over several seeds, as queued DVC experiments: mean ± 95 % per arm, paired gaps.

A tool, not a DVC stage: it runs experiments of the pipeline. The extractor's figures over seeds 0–3,
the committed params against a lever (≈ 5 min per run, two at a time on 2 cores):

    python tools/seed_spread.py --arm base --arm "piper data.engines=[espeak,flite,festival,piper]"

Each ``--arm`` is a name, then ``-S`` overrides separated by spaces. ``--collect-only`` reads
experiments already run (``--baseline``: the commit they ran on; default HEAD).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from edgetune import cli, cluster, seed_spread  # noqa: E402
from edgetune.atomic import write_json  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", required=True,
                        help='"NAME [param=value …]"; the first arm is the reference of the paired gaps')
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--target", default="extractor", help="stage to run up to (default: extractor)")
    parser.add_argument("--seed-param", default="extractor.seed")
    parser.add_argument("--metrics", default="metrics/extractor.json")
    parser.add_argument("--keys", nargs="+", default=list(seed_spread.EXTRACTOR_KEYS))
    parser.add_argument("--percent", action="store_true", help="print values × 100 (always for the extractor's keys)")
    parser.add_argument("--jobs", type=int, default=2, help="local queue: runs at a time")
    parser.add_argument("--cluster", metavar="ADDRESS", default=os.environ.get(cluster.SCHEDULER_ENV),
                        help=f"a Dask scheduler (default: ${cluster.SCHEDULER_ENV}): the runs go to its workers "
                        "instead of this machine's queue (docs/cluster.md)")
    parser.add_argument("--git-remote", default="origin", help="with --cluster: the git remote the workers clone")
    parser.add_argument("--cluster-timeout", type=float, default=10.0, help="seconds to reach the scheduler")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="how often `dvc queue status` is asked (each ask costs ≈ 1 s of CPU)")
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--baseline", default="HEAD", help="with --collect-only: the commit the experiments ran on")
    parser.add_argument("--record", metavar="JSON", help="also write the first arm's runs, their params and data "
                        "there (results/extractor_seeds.json is the one the report reads)")
    args = parser.parse_args(argv)
    arms = [seed_spread.Arm(words[0], tuple(args.seeds), tuple(words[1:])) for words in (a.split() for a in args.arm)]
    scale = 100.0 if args.percent or args.keys == list(seed_spread.EXTRACTOR_KEYS) else 1.0

    def body() -> None:
        repo = Path(".")
        names = [arm.experiment(s) for arm in arms for s in arm.seeds]
        # the commit they are queued on, read back even if HEAD moves while they run
        baseline = seed_spread.commit_of(repo, args.baseline)
        if not args.collect_only and args.cluster:
            cluster.check_pushed(repo, args.git_remote, baseline)
            where = cluster.remotes(repo, args.git_remote)
            specs = [{**where, "name": arm.experiment(s), "commit": baseline,
                      "args": seed_spread.run_args(arm, s, args.target, args.seed_param)} for arm in arms for s in arm.seeds]
            cluster.run_experiments(args.cluster, specs, args.cluster_timeout)
            cluster.pull(repo, args.git_remote, names)
        elif not args.collect_only:
            for arm in arms:
                seed_spread.queue(repo, arm, args.target, args.seed_param)
            seed_spread.run_queue(repo, names, args.jobs, args.poll_seconds)
        metrics = seed_spread.read_metrics(repo, names, args.metrics, baseline)
        values = {arm.name: seed_spread.per_seed(arm, metrics, tuple(args.keys)) for arm in arms}
        print(seed_spread.markdown(arms, values, scale))
        if args.record:
            write_json(args.record, seed_spread.record(repo, arms[0], values[arms[0].name], baseline,
                                                           args.target, args.seed_param))

    return cli.run_stage("seed-spread", body)


if __name__ == "__main__":
    sys.exit(main())
