from pathlib import Path

import pytest
import yaml

from edgetune.errors import EdgetuneError
from edgetune.params import Params, load_params, parse_params

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_are_valid_and_match_the_schema_defaults():
    params = load_params(REPO / "params.yaml")
    assert params == Params()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"data": {"clips_per_word": -3}}, "data.clips_per_word = -3: Input should be greater than or equal to 2"),
        ({"data": {"source": "web"}}, "data.source = 'web': Input should be 'synthetic', 'brainchip' or 'file'"),
        ({"data": {"words": ["six", "sixx"]}}, "unknown word(s) ['sixx']"),
        ({"data": {"source": "file"}}, "source 'file' needs data.path"),
        ({"weights": {"factr": 1.2}}, "weights.factr = 1.2: unknown key"),
        ({"table": {"reference": 7}}, "reference 7 is not in neurons_per_class"),
        ({"sweep": {"neurons_per_class": []}}, "neurons_per_class must be a non-empty list"),
    ],
)
def test_bad_values_fail_with_one_line_naming_key_value_and_rule(raw, expected):
    with pytest.raises(EdgetuneError) as info:
        parse_params(raw, "params.yaml")
    message = str(info.value)
    assert expected in message
    assert message.startswith("params.yaml: ")
    assert "Traceback" not in message


def test_load_params_reports_missing_and_malformed_files(tmp_path):
    with pytest.raises(EdgetuneError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(EdgetuneError, match="not valid YAML"):
        load_params(bad)
    bad.write_text(yaml.safe_dump(["a", "list"]))
    with pytest.raises(EdgetuneError, match="must be a mapping"):
        load_params(bad)


def test_params_rewritten_by_dvc_exp_run_set_param_still_load(tmp_path):
    """`dvc exp run -S` rewrites params.yaml as YAML 1.2: words like no/off/on/yes lose their quotes."""
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  words:\n  - no\n  - off\n  - on\n  - yes\nweights:\n  fraction: 1e-1\n")
    params = load_params(path)
    assert params.data.words == ["no", "off", "on", "yes"]
    assert params.weights.fraction == 0.1
    # the repository's own params.yaml rewritten that way still loads to the defaults
    text = (REPO / "params.yaml").read_text().replace("'no'", "no").replace("'yes'", "yes").replace("'on'", "on")
    assert "  - no\n" in text
    path.write_text(text)
    assert load_params(path) == Params()
