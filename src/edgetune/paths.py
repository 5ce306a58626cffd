"""Where the pipeline's files live: the paths dvc.yaml names, in one place.

Each stage's ``run()`` takes its files as arguments (the tests point them at a temporary folder)
and defaults to these; ``tests/test_layout.py`` checks that dvc.yaml names the same files. Moving
a file means changing it here and in dvc.yaml, nowhere else. Paths are relative to the repository
root, where DVC runs the stages.
"""

from __future__ import annotations

PARAMS = "params.yaml"

# fetch, fetch-new-words
DATASET = "data/kws.npz"
DATA_METRICS = "metrics/data.json"
NEW_WORDS = "data/new_words.npz"
NEW_WORDS_METRICS = "metrics/new_words.json"

# extractor
EXTRACTOR = "models/extractor.fbz"
EXTRACTOR_METRICS = "metrics/extractor.json"
EXTRACTOR_IDENTITY = "results/extractor_identity.json"
EXTRACTOR_CONFUSION = "plots/confusion/extractor.csv"  # the full model's classifier on the validation split
DVCLIVE_DIR = "dvclive"  # the training curves
EXTRACTOR_SEEDS = "results/extractor_seeds.json"  # committed: the extractor's figures over seeds (tools/seed_spread.py)

# spikes
SPIKES = "data/spikes.npz"
SPIKES_METRICS = "metrics/spikes.json"
SPIKES_PLOTS = "plots/spikes"

# weights
NUM_WEIGHTS = "results/num_weights.json"  # the weights stage's choice, alone
WEIGHTS_METRICS = "metrics/weights.json"
WEIGHTS_PLOTS = "plots/weights"

# sweep
SWEEP_PLOTS = "plots/sweep"
SWEEP_CURVES = "plots/sweep.csv"
SWEEP_METRICS = "metrics/sweep.json"

# table-train, hardware, table, confusion
TABLE_RESULTS = "results/table"
HARDWARE_METRICS = "metrics/hardware.json"
HARDWARE_CSV = "plots/hardware.csv"
TABLE_METRICS = "metrics/table.json"
TABLE_MARKDOWN = "metrics/table.md"
TABLE_CSV = "plots/table.csv"
TABLE_TIME_CSV = "plots/table_time.csv"
TABLE_PER_CLASS_CSV = "plots/table_per_class.csv"
TABLE_PNG = "plots/table.png"
EDGE_CONFUSION = "plots/confusion/edge.csv"

# fewshot
FEWSHOT_METRICS = "metrics/fewshot.json"
FEWSHOT_CSV = "plots/fewshot.csv"

# report
REPORT_DIR = "report"
