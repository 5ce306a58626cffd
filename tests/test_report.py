"""The report stage, on the outputs of the real stages run by `dvc repro` on tiny data.

The fixture runs fetch (source=file, a tiny dataset), spikes (a tiny real Akida extractor),
weights, sweep (two classes), table-train and table in a project copy; only the extractor's
metrics are written by hand, in the extractor stage's format (its training is the one stage too
slow for a test). Then `dvc repro -s report` must turn those outputs into a report whose every
number is the inputs' own.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from akida_fixtures import make_tiny_extractor
from conftest import DvcProject, copy_project
from edgetune.dataset import save_dataset
from edgetune.errors import EdgetuneError
from edgetune.report import answer_text, answers, document, formats, inputs, report_data, sections
from pipeline_fixtures import SWEEP_WORDS, TABLE_VALUES, setup_upstream
from spike_fixtures import tiny_kws


@pytest.fixture(scope="module")
def upstream(tmp_path_factory) -> DvcProject:
    """A project copy holding every upstream output, made once for the module (≈ 30 s)."""
    project = copy_project(tmp_path_factory.mktemp("report") / "project")
    setup_upstream(project)
    return project


@pytest.fixture
def project(upstream, tmp_path) -> DvcProject:
    """A private copy of the upstream project, so a test may break or rerun it freely."""
    dest = tmp_path / "project"
    shutil.copytree(upstream.root, dest, symlinks=True)
    return DvcProject(dest)


@pytest.fixture(scope="module")
def reported_once(upstream, tmp_path_factory) -> tuple[DvcProject, str]:
    """The upstream project after one `dvc repro -s report`, and that run's output, made once for the module."""
    dest = tmp_path_factory.mktemp("reported") / "project"
    shutil.copytree(upstream.root, dest, symlinks=True)
    project = DvcProject(dest)
    return project, project.run("dvc", "repro", "-s", "report").stdout


@pytest.fixture
def reported(reported_once, tmp_path) -> tuple[DvcProject, str]:
    """A private copy of the project the report stage has run in (≈ 5 s a test saved), and the run's output."""
    once, out = reported_once
    dest = tmp_path / "project"
    shutil.copytree(once.root, dest, symlinks=True)
    return DvcProject(dest), out


def read_json(root: Path, path: str) -> dict:
    return json.loads((root / path).read_text())


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def pct_pm(x: float, half: float) -> str:
    return f"{100 * x:.1f} ± {100 * half:.1f} %"


def section(md: str, title: str) -> str:
    """The text of the markdown section whose heading starts with ``title``, up to the next one of its level."""
    match = re.search(rf"^(#+) {re.escape(title)}.*$", md, re.M)
    assert match, f"no section {title!r}"
    level = len(match.group(1))
    rest = md[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start() if end else len(rest)]


def test_report_fills_every_section_from_the_stages_outputs(reported):
    project, out = reported
    root = project.root
    assert "Running stage 'report'" in out
    md = (root / "report" / "report.md").read_text()
    # a user file without the optional new_* fields: no new words, and the report says why
    assert ("## 8. New words on the device: k shots each\n\nNot measured: data.path = 'inputs/kws.npz' has no new "
            "classes to learn with k shots (the optional fields new_x_train, new_y_train, new_x_val, new_y_val, "
            "new_classes)") in md
    data, spikes, w = (read_json(root, f"metrics/{n}.json") for n in ("data", "spikes", "weights"))
    sweep, table = read_json(root, "metrics/sweep.json"), read_json(root, "metrics/table.json")
    table_time = read_json(root, "metrics/time/table.json")

    s = section(md, "1. Data")
    assert "Source **file**" in s and f"{data['num_classes']} classes" in s
    assert f"| samples | {data['samples']['train']} | {data['samples']['val']} |" in s
    assert "| samples per class | 40 | 15 |" in s and "`six`" in s and "`up`" in s

    s = section(md, "2. Feature extractor")
    assert "Source **train**. Validation accuracy" in s
    assert "| float model | 85.4 % |" in s and "| quantized model | 83.3 % |" in s and "| Akida model (converted) | 81.2 % |" in s
    assert "| spike width (neurons) | 24 |" in s and "| neurons that never fire | 1 |" in s and "| firing fraction | 34.7 % |" in s

    s = section(md, "3. Spike distribution")
    med = spikes["train"]["median"]
    assert f"| median | {formats.num(med)} | {formats.num(spikes['val']['median'])} | {formats.num(spikes['overall']['median'])} |" in s
    assert f"| samples | {spikes['train']['samples']} | {spikes['val']['samples']} |" in s
    assert f"Of the 24 spike neurons, {spikes['neurons']['never_fire']} never fire" in s
    for name in ("spike_count_histogram", "spikes_per_class", "spike_neuron_rates"):
        assert f"(figures/{name}.png)" in s

    s = section(md, "4. Number of weights")
    assert f"num_weights = int(1.2 × {formats.num(w['median_spikes'])}) = **{w['num_weights']}**" in s
    curve = pd.read_csv(root / "plots/weights/factor_curve.csv")
    for r in curve.itertuples():
        assert f"| {int(r.num_weights)} | {pct_pm(r.val_accuracy, r.val_accuracy_ci95)} |" in s
    assert "3 seeds; mean ± 95 % t-interval over seeds" in s
    assert re.search(r"\| 1\.2 ←( ★)? \|", s) and "★" in s

    s = section(md, "5. Neurons per class")
    for word in SWEEP_WORDS:
        c = sweep["classes"][word]
        knee_cell = "none" if c["loss_knee"] is None else str(c["loss_knee"])
        assert re.search(rf"\| `{word}` \| {c['samples']} \| {knee_cell}\b", s)
        assert f"### Class `{word}`" in s and f"(figures/sweep_{word}.png)" in s
    assert "(figures/sweep_all_classes.png)" in s and f"num_weights {w['num_weights']}" in s

    s = section(md, "6. Accuracy and time ratio")
    for v in TABLE_VALUES:
        r, m = table["rows"][str(v)], table_time["rows"][str(v)]
        mark = " ←" if v == table["plateau_neurons_per_class"] else ""
        assert (f"| {v}{mark} | {pct_pm(r['val_accuracy'], r['val_accuracy_ci95'])} | {m['time_ratio_model']:.2f} "
                f"| {m['time_ratio_edge']:.2f} |") in s
    assert f"stops rising at **{table['plateau_neurons_per_class']}** neurons per class" in s
    assert "the smallest value not significantly below the best" in s
    assert f"took {table_time['check']['direct_seconds']:.2f} s of CPU time against F + E" in s
    limit = read_json(root, "metrics/hardware.json")["max_on_chip_neurons_per_class"]
    assert f"on a virtual AKD1000 the edge layer stays in on-chip memory up to **{limit}**; beyond {limit}" in s

    s = section(md, "7. The two questions")
    q1 = section(md, "Does 1.2 × median do as well as the best factor?")
    chosen = curve[curve.factor == 1.2].iloc[0]
    assert f"gives {pct_pm(chosen.val_accuracy, chosen.val_accuracy_ci95)} validation accuracy at 4 neurons per class" in q1
    assert f"the best factor measured, {formats.num(w['best_factor'])}" in q1
    expected = {"best": "is the best factor measured", "indistinguishable": "**Yes, indistinguishable from the best:**",
                "below": "below the best**, more than the seeds' noise"}[w["chosen_verdict"]]
    assert expected in q1
    q2 = section(md, "Does the sweep's knee sit near")
    assert f"stops rising at **{table['plateau_neurons_per_class']}** neurons per class (of 1, 2, 4, 8)" in q2
    for curve_name, label in (("loss", "loss"), ("learned", "learned neurons")):
        knee = sweep["summary"][f"{curve_name}_knee_median"]
        assert f"| {label} | {'none' if knee is None else formats.num(float(knee))}" in q2
    assert "(figures/knee_vs_plateau.png)" in q2 and "(figures/factor_question.png)" in q1

    # every referenced figure exists, is a PNG, and the stages' PNGs are copied byte for byte
    figures = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", md)
    assert len(figures) == 12  # + the two confusion matrices
    for ref in figures:
        assert (root / "report" / ref).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", ref
    assert (root / "report/figures/table.png").read_bytes() == (root / "plots/table.png").read_bytes()
    assert (root / "report/figures/sweep_six.png").read_bytes() == (root / "plots/sweep/six.png").read_bytes()
    assert sorted(p.name for p in (root / "report").iterdir()) == ["figures", "report.html", "report.md"]
    # ordinary project files, readable by others (not the 0600 of a private temp file)
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in (root / "report").rglob("*"))


def test_html_is_one_self_contained_file_with_every_figure_embedded(reported):
    project, _ = reported
    root = project.root
    html = (root / "report" / "report.html").read_text()
    md = (root / "report" / "report.md").read_text()
    srcs = re.findall(r'<img src="([^"]*)"', html)
    assert len(srcs) == len(re.findall(r"!\[", md)) == 12
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "<link" not in html and "<script" not in html
    # the embedded bytes are the figures', and the tables are real HTML tables
    first = re.search(r"!\[[^\]]*\]\((figures/[^)]+)\)", md).group(1)
    assert base64.b64decode(srcs[0].split(",", 1)[1]) == (root / "report" / first).read_bytes()
    assert html.count("<table>") == len(re.findall(r"^\|[-:|]+\|$", md, re.M)) > 5 and "<h2>7. The two questions" in html


def test_same_inputs_give_the_same_bytes_and_no_rerun(reported):
    project, out = reported
    root = project.root
    assert "Running stage 'report'" in out
    first = {p.relative_to(root): p.read_bytes() for p in sorted((root / "report").rglob("*")) if p.is_file()}
    assert "didn't change" in project.run("dvc", "repro", "-s", "report").stdout
    project.run("dvc", "repro", "-s", "-f", "report")
    again = {p.relative_to(root): p.read_bytes() for p in sorted((root / "report").rglob("*")) if p.is_file()}
    assert again == first


def test_a_missing_input_names_the_file_and_the_stage_to_run(project):
    root = project.root
    (root / "metrics" / "extractor.json").unlink()
    (root / "plots" / "table.png").unlink()
    direct = project.run("python", "stages/report.py", check=False)  # as DVC runs it
    assert direct.returncode == 2
    assert direct.stderr.count("\n") == 1, direct.stderr
    assert "metrics/extractor.json: not found; run the extractor stage first (dvc repro extractor)" in direct.stderr
    assert "plots/table.png: not found; run the table stage first (dvc repro table)" in direct.stderr
    assert not (root / "report").exists()
    out = project.run("dvc", "repro", "-s", "report", check=False)
    assert out.returncode != 0 and "metrics/extractor.json" in out.stderr + out.stdout


def test_a_failure_keeps_the_previous_report(reported):
    project, _ = reported
    root = project.root
    before = (root / "report" / "report.md").read_bytes()
    sweep = read_json(root, "metrics/sweep.json")
    sweep["classes"]["ghost"] = dict(sweep["classes"]["six"])  # a class whose figure the sweep never drew
    (root / "metrics/sweep.json").write_text(json.dumps(sweep))
    with pytest.raises(EdgetuneError, match=r"plots/sweep/ghost.png: not found \(class 'ghost' of metrics/sweep.json\)"):
        document.run(root)
    assert (root / "report" / "report.md").read_bytes() == before
    assert [p.name for p in root.iterdir() if p.name.startswith(".report")] == []


def test_a_file_older_than_the_code_names_the_key_and_the_stage(tmp_path):
    with pytest.raises(EdgetuneError, match=r"metrics/table.json: no 'plateau_neurons_per_class'; .*rerun dvc repro table"):
        inputs.need({"rows": {}}, "plateau_neurons_per_class", "table")


# --- the two answers, on numbers chosen to land in each case ---------------------------------
TUTORIAL_TABLE = {10: 0.916, 20: 0.918, 50: 0.921, 100: 0.923, 200: 0.925, 300: 0.926, 400: 0.925, 500: 0.925}
# paired gaps to 300 and whether they are significant (the table stage's verdicts): 50 and up are noise
BELOW = {10: True, 20: True, 50: False, 100: False, 200: False, 300: False, 400: False, 500: False}


def tutorial_table() -> dict:
    values = list(TUTORIAL_TABLE)
    return {
        "neurons_per_class": values, "plateau_neurons_per_class": 50, "best_val_accuracy": 0.926,
        "best_neurons_per_class": 300,
        "rows": {str(v): {"val_accuracy": a, "val_accuracy_ci95": 0.004, "gap_to_best": round(0.926 - a, 6),
                          "gap_to_best_ci95": 0.005, "below_best": BELOW[v]} for v, a in TUTORIAL_TABLE.items()},
    }


def tutorial_times() -> dict:
    return {"rows": {str(v): {"time_ratio_model": v / 300} for v in TUTORIAL_TABLE}}


def sweep_summary(loss_knee, learned_knee=None) -> dict:
    return {"summary": {"classes": 1, "classes_with_loss_knee": int(loss_knee is not None),
                        "classes_with_learned_knee": int(learned_knee is not None),
                        "loss_knee_median": loss_knee, "learned_knee_median": learned_knee,
                        "loss_knee_reason": None, "learned_knee_reason": None if learned_knee else "flat curve"}}


@pytest.mark.parametrize(
    "knee, verdict",
    [(300, "above"), (50, "near"), (100, "near"), (21, "near"), (20, "below"), (5, "below"), (600, "above")],
)
def test_knee_verdict_against_the_plateau_on_the_table_grid(knee, verdict):
    assert answers.knee_verdict(knee, list(TUTORIAL_TABLE), 50) == verdict


def test_knee_verdict_at_the_ends_of_the_table():
    assert answers.knee_verdict(5, [10, 20, 50], 10) == "below_range"
    assert answers.knee_verdict(8, [10, 20, 50], 10) == "below_range"
    assert answers.knee_verdict(15, [10, 20, 50], 10) == "near"
    assert answers.knee_verdict(900, [10, 20, 50], 50) == "above_range"
    assert answers.knee_verdict(900, [10, 20, 50], 20) == "above"


def test_tutorials_own_numbers_the_knee_at_300_overshoots_a_plateau_at_50():
    loss, learned = answers.answer_knees(sweep_summary(300), tutorial_table(), tutorial_times())
    assert loss.verdict == "above" and loss.ratio == 6
    assert loss.accuracy_at_knee == pytest.approx(0.926) and loss.time_ratio_at_knee == pytest.approx(1.0)
    assert loss.nearest == 300 and loss.nearest_below is False
    assert learned.verdict == "no_knee" and learned.accuracy_at_knee is None
    lines = "\n".join(answer_text.knee_answer_lines([loss, learned], tutorial_table(), tutorial_times()))
    assert "**No, the loss knee (300) is above the plateau**, 6× as many neurons per class" in lines
    assert "time ratio of 1.00 against 0.17 at the plateau" in lines and "costs time, not accuracy" in lines
    assert "The learned neurons curve has no knee (flat curve)" in lines
    # between two table values, accuracy is read linearly in log10: 15 sits 58.5 % of the way from 10 to 20
    (below,) = [a for a in answers.answer_knees(sweep_summary(15), tutorial_table(), tutorial_times()) if a.curve == "loss"]
    assert below.verdict == "below" and below.accuracy_at_knee == pytest.approx(0.916 + 0.002 * 0.58496, abs=1e-6)
    assert below.nearest == 20 and below.nearest_below is True
    assert ("**No, the loss knee (15) is below the plateau:** at 20, the table value nearest it, accuracy is "
            "0.8 ± 0.5 points below the best, more than the seeds' noise; following it gives up accuracy.") in \
        "\n".join(answer_text.knee_answer_lines([below], tutorial_table(), tutorial_times()))


def test_a_knee_whose_gap_is_within_the_seeds_noise_is_called_indistinguishable():
    near = answers.answer_knees(sweep_summary(45, 45), tutorial_table(), tutorial_times())
    text = "\n".join(answer_text.knee_answer_lines(near, tutorial_table(), tutorial_times()))
    assert ("**Yes for the loss and learned-neurons knees (45):** they sit within one step of the table's plateau at 50; "
            "at 50, the table value nearest it, accuracy is indistinguishable from the best (0.5 ± 0.5 points).") in text
    assert "learned neurons knee" not in text  # both knees at one value: answered once


def test_a_knee_above_the_plateau_where_accuracy_falls_significantly_costs_accuracy_too():
    falling = tutorial_table()
    falling["rows"]["500"].update(val_accuracy=0.90, gap_to_best=0.026, below_best=True)  # past the plateau it drops
    knees = answers.answer_knees(sweep_summary(500, 500), falling, tutorial_times())
    text = "\n".join(answer_text.knee_answer_lines(knees, falling, tutorial_times()))
    assert text.count("**No, the loss and learned-neurons knees (500) are above the plateau**") == 1
    assert "at 500, the table value nearest it, accuracy is 2.6 ± 0.5 points below the best" in text
    assert "Following it costs time and accuracy." in text


def factor_curve(accuracies: dict[float, float], gaps_ci: float = 0.004, below: set[float] = frozenset()) -> pd.DataFrame:
    best = max(accuracies.values())
    return pd.DataFrame({"factor": list(accuracies), "num_weights": [int(f * 71) for f in accuracies],
                         "val_accuracy": list(accuracies.values()), "val_accuracy_ci95": [0.003] * len(accuracies),
                         "learned_neurons": [100] * len(accuracies),
                         "gap_to_best": [round(best - a, 6) for a in accuracies.values()],
                         "gap_to_best_ci95": [gaps_ci] * len(accuracies),
                         "below_best": [int(f in below) for f in accuracies]})


def test_factor_answer_says_best_indistinguishable_or_below_with_the_numbers():
    a = answers.answer_factor(factor_curve({0.8: 0.554, 1.0: 0.55, 1.2: 0.537, 1.6: 0.52}, below={1.2, 1.6}), 1.2, 5, 50)
    assert (a.factor, a.num_weights, a.best_factor, a.best_num_weights) == (1.2, 85, 0.8, 56)
    assert a.gap == pytest.approx(0.017) and a.verdict == "below"
    text = "\n".join(answer_text.factor_answer_lines(a))
    assert "**No: 1.7 ± 0.4 points below the best**, more than the seeds' noise" in text
    assert "1.2 × median (num_weights 85) gives 53.7 ± 0.3 %" in text and "Means over 5 seeds" in text
    # a gap the seeds' own scatter covers: indistinguishable, with the numbers
    same = answers.answer_factor(factor_curve({1.0: 0.92, 1.2: 0.918, 1.4: 0.91}, gaps_ci=0.005), 1.2, 5, 50)
    assert same.verdict == "indistinguishable"
    assert "**Yes, indistinguishable from the best:** the gap, 0.2 ± 0.5 points, is within the seeds' noise" in \
        "\n".join(answer_text.factor_answer_lines(same))
    best = answers.answer_factor(factor_curve({1.0: 0.9, 1.2: 0.93, 1.4: 0.93}), 1.2, 5, 50)
    assert best.best_factor == 1.2 and "**Yes: 1.2 × median is the best factor measured**" in "\n".join(
        answer_text.factor_answer_lines(best))
    # 1.2 not measured: the chosen factor stands in, and the report says so
    other = answers.answer_factor(factor_curve({1.0: 0.9, 1.4: 0.92}), 1.4, 5, 50)
    assert other.factor == 1.4 and not other.tutorial_measured
    assert "1.2 is not among `weights.factors`" in "\n".join(answer_text.factor_answer_lines(other))


def test_extractor_section_reads_the_metrics_the_extractor_stage_wrote(tmp_path):
    """On the extractor stage's own metrics/extractor.json (source=file, a tiny model): every number shown."""
    from edgetune.extractor import build

    ds = tiny_kws()
    save_dataset(tmp_path / "kws.npz", ds)
    make_tiny_extractor(tmp_path / "user.fbz", ds.x_train, width=24)
    (tmp_path / "params.yaml").write_text(f"extractor:\n  source: file\n  path: {tmp_path / 'user.fbz'}\n")
    metrics_path = tmp_path / "metrics" / "extractor.json"
    build.run(tmp_path / "params.yaml", tmp_path / "kws.npz", tmp_path / "models" / "extractor.fbz", metrics_path)
    ext = read_json(tmp_path, "metrics/extractor.json")
    text = "\n".join(report_data.extractor_section(ext))
    assert "Source **file**." in text
    assert f"Validation accuracy of the full classifier ({len(ds.y_val)} validation samples)" in text
    assert "| float model | n/a |" in text and "| Akida model (converted) | n/a |" in text
    assert "n/a: not measured for source `file`" in text
    assert "| spike width (neurons) | 24 |" in text
    assert f"| spikes per sample, median | {formats.num(ext['val_median_spikes'])} |" in text
    assert f"| spikes per sample, mean | {formats.num(ext['mean_spikes'])} |" in text
    assert f"| firing fraction | {pct(ext['firing_fraction'])} |" in text
    assert f"| neurons that never fire | {ext['neurons_never_firing']} |" in text
    assert f"| neurons that always fire | {ext['neurons_always_firing']} |" in text
    assert "n/a validation samples" not in text
    # a key the stage renames is an error naming it, not a silent "n/a"
    for key in ("val_spike_samples", "float_val_accuracy", "mean_spikes", "neurons_always_firing"):
        renamed = {k: v for k, v in ext.items() if k != key}
        with pytest.raises(EdgetuneError, match=rf"metrics/extractor.json: no '{key}'; .*rerun dvc repro extractor"):
            report_data.extractor_section(renamed)


def test_stages_that_disagree_on_num_weights_are_flagged():
    assert document.stale_num_weights({"num_weights": 9}, {"sweep_num_weights": 9}, {"table_num_weights": 9}) is None
    note = document.stale_num_weights({"num_weights": 9}, {"sweep_num_weights": 9}, {"table_num_weights": 12})
    assert note == ("the stages used different num_weights (weights 9, sweep 9, table 12); some outputs are stale, "
                    "run `dvc repro` to bring them in line")


def in_short(md: str) -> str:
    (line,) = [line for line in md.splitlines() if line.startswith("**In short:**")]
    return line


def test_in_short_names_the_extractor_and_says_the_spread_is_not_this_ones(reported):
    project, _ = reported
    root = project.root
    md = (root / "report" / "report.md").read_text()
    ident = read_json(root, "results/extractor_identity.json")
    w = read_json(root, "metrics/weights.json")
    verdict = {"best": "is the best factor measured", "indistinguishable": "is indistinguishable from the best factor",
               "below": "is below the best factor, beyond the seeds' noise"}[w["chosen_verdict"]]
    line = in_short(md)
    assert f"; 1.2 × median spikes {verdict}. " in line
    assert line.endswith(
        f"**All of this is for one extractor:** `models/extractor.fbz` md5 `{ident['model_md5']}`, trained by the "
        "extractor stage on a test CPU (TensorFlow 2.19.1, oneDNN capped at AVX2), extractor.seed 0, Akida 81.2 % on "
        "its own; the seed spread in `results/extractor_seeds.json` was measured for other params or data, so this "
        "draw's spread is not measured (python tools/seed_spread.py --arm base --seeds 0 1 2 3 --record "
        "results/extractor_seeds.json).")
    assert "**Warning:**" not in md  # a sound run: nothing to warn of
    s = section(md, "2. Feature extractor")
    assert f"| model md5 | `{ident['model_md5']}` |" in s
    assert f"| dataset md5 | `{ident['data']['md5']}` (`data/kws.npz`) |" in s
    assert "| params | activation_quantile 0.999, augment_noise 12.0," in s and "url" not in s  # a trained one's
    assert "| extractor.seed |" not in s  # no spread table for a spread that is not this extractor's


def test_in_short_sets_the_extractor_in_its_seed_spread_and_repeats_every_warning(reported):
    project, _ = reported
    root = project.root
    ident = read_json(root, "results/extractor_identity.json")
    akida = [0.80, 0.8125, 0.75]
    spread = {"params": {k: v for k, v in ident["params"].items() if k != "seed"}, "deps": {"data/kws.npz": ident["data"]["md5"]},
              "runs": [{"seed": s, "akida_val_accuracy": a, "float_val_accuracy": 0.9} for s, a in enumerate(akida)],
              "summary": {"akida_val_accuracy": {"mean": 0.7875, "ci95": 0.0823, "min": 0.75, "max": 0.8125},
                          "float_val_accuracy": {"mean": 0.9, "ci95": 0.0, "min": 0.9, "max": 0.9}}}
    (root / "results/extractor_seeds.json").write_text(json.dumps(spread))
    table = read_json(root, "metrics/table.json")
    table["best_val_accuracy"] = 0.26  # 4 classes: chance is 25 %
    (root / "metrics/table.json").write_text(json.dumps(table))
    spikes = read_json(root, "metrics/spikes.json")
    spikes["overall"]["zero_spike_samples"] = 3
    (root / "metrics/spikes.json").write_text(json.dumps(spikes))
    md, _ = document.build_markdown(root)
    line = in_short(md)
    assert ("Akida 81.2 % on its own; over 3 extractor seeds with these params and data, Akida 78.8 ± 8.2 % "
            "(95 %; 75.0 % to 81.2 %), seed 0 the 2nd best of them.") in line
    assert line.endswith(" **Warning:** 3 sample(s) produce no spike at all: edge learning can neither learn nor "
                         "classify them. **Warning:** the edge layer's best validation accuracy, 26.0 %, is near "
                         "chance (25.0 % for 4 classes): the extractor's spikes carry little or no class information, "
                         "so the learning parameters found here mean little — check the extractor (its own accuracy, "
                         "its spikes per class) before tuning the edge layer.")
    s = section(md, "2. Feature extractor")
    assert "| extractor.seed | float | akida |" in s
    assert "| 1 | 90.0 % | 81.2 % |" in s and "| mean ± 95 % | 90.0 ± 0.0 % | 78.8 ± 8.2 % |" in s


@pytest.mark.parametrize("link", ["https://example.org/a.png", "../outside.png", "figures/absent.png"])
def test_html_refuses_a_figure_it_cannot_embed(tmp_path, link):
    from edgetune.report import report_html

    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    base = tmp_path / "report"
    base.mkdir()
    with pytest.raises(EdgetuneError, match="the HTML must embed every figure"):
        report_html.render(f"# R\n\n![a figure]({link})\n", base)


def test_own_figures_for_many_classes_render_and_repeat_byte_for_byte(tmp_path):
    from edgetune.report import report_figures

    words = [f"w{i}" for i in range(12)]
    npc = [1, 2, 4, 8, 16, 32]
    curves = pd.DataFrame([{"word": w, "neurons_per_class": n, "loss_min": 10 / (n + i), "learned_min": min(n, 8 + i)}
                           for i, w in enumerate(words) for n in npc])
    sw = {"classes": {w: {"loss_knee": 8, "loss_at_knee": 1.0, "learned_knee": None, "learned_at_knee": None}
                      for w in words}}
    t = {**tutorial_table(), "neurons_per_class": [10, 20, 50]}
    knees = answers.answer_knees(sweep_summary(8, 16), t, tutorial_times())
    for name in ("a", "b"):
        report_figures.sweep_all_classes(curves, sw, tmp_path / f"all_{name}.png")
        report_figures.knee_vs_plateau(t, curves, sw, knees, tmp_path / f"knee_{name}.png")
    for fig in ("all", "knee"):
        first = (tmp_path / f"{fig}_a.png").read_bytes()
        assert first[:8] == b"\x89PNG\r\n\x1a\n" and first == (tmp_path / f"{fig}_b.png").read_bytes()


def test_sweep_section_groups_short_classes_and_gives_the_reason_for_a_missing_knee():
    def cls(samples, short, learned_knee=12):
        return {"samples": samples, "fewer_samples_than": short, "loss_knee": 8, "loss_at_knee": 2.0,
                "learned_knee": learned_knee, "learned_at_knee": None if learned_knee is None else 12.0,
                "loss_knee_reason": None,
                "learned_knee_reason": None if learned_knee else "no knee: kneedle found no bend above its threshold (S=1)"}
    sw = {"sweep_neurons_per_class": [1, 8, 50, 100], "repetitions": 2, "sweep_num_weights": 9, "summary": {},
          "classes": {"_silence_": cls(40, [50, 100]), "six": cls(40, [50, 100], None), "up": cls(60, [100])}}
    text = "\n".join(sections.sweep_section(sw, {w: w for w in sw["classes"]}))
    assert text.count("training samples, fewer than") == 2
    assert "`_silence_`, `six`: 40 training samples, fewer than 50, 100 neurons per class." in text
    assert "`up`: 60 training samples, fewer than 100 neurons per class." in text
    assert "No knee on the learned curve: kneedle found no bend above its threshold (S=1)." in text
    assert "| `six` | 40 | 8 (loss 2) | none |" in text and "### Class `_silence_`" in text


def test_review_shows_the_reports_own_figures_of_both_sides(reported):
    from edgetune.report.review import build_review

    project, out = reported  # `dvc repro -s report` has run
    root = project.root
    assert "Running stage 'report'" in out
    # the sweep plots' log-x template (a project part newer copies of the pipeline bring along)
    shutil.copytree(Path(__file__).resolve().parents[1] / ".dvc" / "plots", root / ".dvc" / "plots", dirs_exist_ok=True)
    project.commit("reproduced")  # dvc.lock holds the report; its figures are in the cache
    before = (root / "report/figures/knee_vs_plateau.png").read_bytes()
    project.set_params(sweep={"repetitions": 1})
    assert "Running stage 'report'" in project.run("dvc", "repro", "-s", "sweep", "report").stdout
    review = build_review("HEAD", repo=root).read_text()
    for name in ("factor_question", "knee_vs_plateau"):
        assert f"### `report/figures/{name}.png`" in review
    base = root / "review/plots/report-figures-knee-vs-plateau-png.HEAD.png"
    after = root / "review/plots/report-figures-knee-vs-plateau-png.workspace.png"
    assert base.read_bytes() == before and after.read_bytes() == (root / "report/figures/knee_vs_plateau.png").read_bytes()
    assert base.read_bytes() != after.read_bytes()  # one repetition instead of two moved the sweep's curves


def test_report_names_the_most_confused_pairs_of_both_matrices(reported):
    project, _ = reported
    root = project.root
    md = (root / "report" / "report.md").read_text()
    s = section(md, "Which words are confused")
    ext = section(md, "The extractor's own classifier")
    # every 4th sample of each class went to the next class (setup_upstream): the top pairs say so
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (\d+) \| ([\d.]+) % \|$", ext, re.M)
    ext_csv = [line.split(",") for line in (root / "plots/confusion/extractor.csv").read_text().splitlines()[1:]]
    wrong = {(a, p) for a, p in ext_csv if a != p}  # 4 classes: 4 pairs (each class → the next)
    assert {(a, p) for a, p, _, _ in rows} == wrong and len(rows) == min(5, len(wrong)), ext
    edge = section(md, "The edge layer at the table's reference value")
    edge_csv = (root / "plots/confusion/edge.csv").read_text().splitlines()
    mistakes = sum(1 for line in edge_csv[1:] if line.split(",")[0] != line.split(",")[1])
    assert f"on {len(edge_csv) - 1} samples" in edge and mistakes > 0
    # the very layer the table's reference row trains first (reference 4, first seed 0)
    first_seed = read_json(root, "results/table/seed-0.json")["runs"]["4"]
    assert first_seed["val_accuracy"] == pytest.approx(1 - mistakes / (len(edge_csv) - 1))
    top = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (\d+) \|", edge, re.M)
    pairs = {}
    for line in edge_csv[1:]:
        a, p = line.split(",")
        if a != p:
            pairs[(a, p)] = pairs.get((a, p), 0) + 1
    assert int(top[0][2]) == max(pairs.values()) and len(top) == min(5, len(pairs))
    for name in ("confusion_extractor.png", "confusion_edge.png"):
        assert (root / "report" / "figures" / name).read_bytes().startswith(b"\x89PNG")
        assert f"(figures/{name})" in s


def flatten(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_metric_keys_are_unique_so_exp_show_only_changed_labels_every_column(project):
    # Every metric name (dotted, as DVC flattens it) is in one metrics file only, and no stage
    # reads a metrics file as params: else `dvc exp show` gives two columns one name and mislabels.
    shown = json.loads(project.run("dvc", "metrics", "show", "--json").stdout)[""]["data"]
    names = {}
    for path, doc in shown.items():
        for key in flatten(doc["data"]):
            names.setdefault(key, []).append(path)
    assert {k: v for k, v in names.items() if len(v) > 1} == {}
    assert len(shown) >= 9, sorted(shown)

    project.commit("upstream outputs")
    for factor in ("1.6", "0.6"):
        project.run("dvc", "exp", "run", "-s", "weights", "-S", f"weights.factor={factor}", "-n", f"factor-{factor}")
    table = project.run("dvc", "exp", "show", "--md", "--only-changed").stdout
    lines = [line for line in table.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert len(header) == len(set(header)), header
    assert not [h for h in header if ":" in h], header  # no name needed its file to be told apart
    params = {f"weights.{k}" for k in project.params()["weights"]}
    assert set(header) - {"Experiment", "Created"} <= set(names) | params, header
    assert {"weights.factor", "num_weights", "val_accuracy"} <= set(header)
    # each column holds its own key's value, row by row
    from test_experiments import md_rows

    rows = {r["Experiment"]: r for r in md_rows(table)}
    median = json.loads((project.root / "metrics/weights.json").read_text())["median_spikes"]
    for factor in ("1.6", "0.6"):
        row = next(r for name, r in rows.items() if f"[factor-{factor}]" in name)
        assert row["weights.factor"] == factor
        assert int(row["num_weights"]) == int(float(factor) * median + 1e-9), row


def test_the_extractor_is_a_dvc_artifact_anyone_can_get(project, tmp_path):
    project.commit("upstream outputs")
    project.run("dvc", "push", "models/extractor.fbz")
    listed = project.run("dvc", "ls", str(project.root), "models").stdout
    assert "extractor.fbz" in listed
    # a version registered the model-registry way (GTO's annotated tag `<artifact>@v<semver>`)
    project.run("git", "tag", "-a", "extractor@v0.1.0", "-m", "Registering artifact extractor version v0.1.0")
    out = tmp_path / "got.fbz"
    got = project.run("dvc", "artifacts", "get", str(project.root), "extractor", "--rev", "v0.1.0", "-o", str(out))
    assert out.read_bytes() == (project.root / "models/extractor.fbz").read_bytes(), got.stdout + got.stderr


def test_the_data_section_states_the_validation_regime_the_fetch_stage_recorded():
    """metrics/data.json from the fetch stage's own data_metrics: the regime is said, against the tutorial's."""
    from dataclasses import replace

    from edgetune.data.fetch import data_metrics

    ds = tiny_kws()
    synthetic = replace(ds, meta={"source": "synthetic", "generator": {"val_snr_db": [20.0, 35.0], "cmn": True}})
    metrics = data_metrics(synthetic)
    assert metrics["val_regime"] == {"speech_snr_db": [20.0, 35.0], "training_snr_db": [0.0, 35.0], "cmn": True}
    text = "\n".join(report_data.data_section(metrics))
    assert ("**Regime.** Validation is the held-out voices (no validation speaker in training), speech at 20–35 dB "
            "SNR of coloured noise (training: 0–35 dB), MFCC with each clip's cepstral mean removed: synthetic "
            "speech, not the tutorial's real speech (Speech Commands): Akida backbone 91.7 %, edge layer 88.8 %.") in text
    # who speaks, from the dataset's meta: each engine's clips in each split
    spoken = replace(ds, meta={"source": "synthetic", "generator": {"cmn": True}, "clips_per_engine": {
        "train": {"espeak": 30, "flite": 29, "noise": 10}, "val": {"espeak": 8, "noise": 2}}})
    assert data_metrics(spoken)["val_regime"]["clips_per_engine"]["val"] == {"espeak": 8, "noise": 2}
    assert ("the regimes agree. Clips per engine, training / validation: espeak 30 / 8, flite 29 / 0 (the table by "
            "voice group below splits validation by held-out person).") in "\n".join(
        report_data.data_section(data_metrics(spoken)))
    # the generator's defaults (keys absent): training's range, no CMN
    plain = data_metrics(replace(ds, meta={"source": "synthetic", "generator": {"seed": 0}}))
    assert plain["val_regime"] == {"speech_snr_db": [0.0, 35.0], "training_snr_db": [0.0, 35.0], "cmn": False}
    assert "cepstral" not in "\n".join(report_data.data_section(plain))
    # BrainChip's data or the user's file: no synthetic regime to state
    assert "val_regime" not in data_metrics(replace(ds, meta={"source": "file"}))
    assert "Regime" not in "\n".join(report_data.data_section(data_metrics(replace(ds, meta={"source": "file"}))))


def test_the_fetch_stage_records_each_engines_held_out_voice_groups():
    from edgetune.data import tts
    from edgetune.data.fetch import held_out_by_engine

    held_out = {"awb", "ked", f"espeak-{tts.ESPEAK_VARIANTS[0]}", f"espeak-{tts.ESPEAK_VARIANTS[1]}"}
    # the real voice lists: awb is one of flite's voices, ked one of festival's, eSpeak's variants pool
    assert held_out_by_engine(["espeak", "flite", "festival"], held_out) == {
        "espeak": ["espeak"], "flite": ["awb"], "festival": ["ked"]}
    assert held_out_by_engine(["flite"], {"ked"}) == {"flite": []}


def test_the_extractor_section_shows_accuracy_by_voice_group():
    ext = {"extractor_source": "train", "float_val_accuracy": 0.7, "quantized_val_accuracy": 0.69,
           "akida_val_accuracy": 0.684, "val_spike_samples": 2640, "spike_width": 256, "val_median_spikes": 77.0,
           "mean_spikes": 77.5, "firing_fraction": 0.3, "neurons_never_firing": 0, "neurons_always_firing": 0,
           "akida_val_accuracy_by_voice": {"ked": {"accuracy": 0.6526, "samples": 832},
                                           "awb": {"accuracy": 0.6806, "samples": 864}}}
    text = "\n".join(report_data.extractor_section(ext))
    assert "| voices | accuracy | samples |" in text
    assert text.index("| awb | 68.1 % | 864 |") < text.index("| ked | 65.3 % | 832 |")
    assert "engine" not in text  # no engines recorded (not synthetic data): no engine column
    # synthetic data records each engine's held-out groups: a column, and the accuracy pooled by engine
    ext["akida_val_accuracy_by_voice"]["espeak"] = {"accuracy": 0.75, "samples": 100}
    ext["akida_val_accuracy_by_voice"]["rms"] = {"accuracy": 0.5, "samples": 100}
    engines = {"espeak": ["espeak"], "flite": ["awb", "rms"], "festival": ["ked", "rms"]}
    text = "\n".join(report_data.extractor_section(ext, engines=engines))
    assert "| voices | engine | accuracy | samples |\n|---|---|---:|---:|" in text and "| awb | flite | 68.1 % | 864 |" in text
    assert "| rms | flite, festival | 50.0 % | 100 |" in text  # a person two engines speak
    # flite and festival share rms: neither engine's accuracy is its own; espeak's is 75.0 % of 100
    assert "By engine (validation samples): espeak 75.0 % (100)." in text
    engines = {"espeak": ["espeak"], "flite": ["awb"], "festival": ["ked"]}
    del ext["akida_val_accuracy_by_voice"]["rms"]
    text = "\n".join(report_data.extractor_section(ext, engines=engines))
    # (0.6806 × 864) / 864 and (0.6526 × 832) / 832: one group each
    assert "By engine (validation samples): espeak 75.0 % (100), flite 68.1 % (864), festival 65.3 % (832)." in text
    del ext["akida_val_accuracy_by_voice"]  # a dataset without voices: no table
    assert "| voices |" not in "\n".join(report_data.extractor_section(ext))
