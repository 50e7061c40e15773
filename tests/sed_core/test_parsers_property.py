"""Property tests of the input edges (config loader, DESED TSV readers): no input makes them fail with anything
but the project's own errors, and every error names the file (or the config source) it is about."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sed_core.config.loading import apply_overrides, config_from_dict, load_config, parse_set_option, read_yaml_mapping
from sed_core.config.schema import ExperimentConfig
from sed_core.data.metadata import read_durations_tsv, read_strong_tsv, read_unlabelled_tsv, read_weak_tsv
from sed_core.desed_classes import DESED_CLASSES
from sed_core.errors import ConfigError, DataError, SedStudyError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_counter = itertools.count()


def write(tmp_path: Path, suffix: str, data: bytes) -> Path:
    path = tmp_path / f"input-{next(_counter)}{suffix}"  # one fresh file per example (tmp_path is per test)
    path.write_bytes(data)
    return path


# ---- TSV readers ---------------------------------------------------------------------------------------------

HEADERS = ["filename\tonset\toffset\tevent_label", "filename\tevent_labels", "filename", "filename\tduration"]
CELLS = st.one_of(
    st.sampled_from(["", " ", "a.wav", "Y1.wav", "0", "1.5", "-1", "nan", "inf", "1e400", "0x10", "1_0",
                     *DESED_CLASSES, "Dgo", "Dog,Cat", "Dog,,Cat", ",", "\ufeff", "\x00", "\u00e9.wav"]),
    st.text(max_size=8),
)
ROWS = st.lists(st.lists(CELLS, min_size=0, max_size=5).map("\t".join), max_size=8)
TSV_TEXT = st.builds(lambda header, rows, newline: newline.join([header, *rows]),
                     st.one_of(st.sampled_from(HEADERS), st.text(max_size=20)), ROWS,
                     st.sampled_from(["\n", "\r\n", "\r"]))
TSV_BYTES = st.one_of(TSV_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=200),
                      TSV_TEXT.map(lambda t: b"\xff\xfe" + t.encode("utf-16-le", "surrogatepass")))
READERS = {"strong": read_strong_tsv, "weak": read_weak_tsv, "unlabelled": read_unlabelled_tsv,
           "durations": read_durations_tsv}


@pytest.mark.parametrize("kind", sorted(READERS))
@SETTINGS
@given(data=TSV_BYTES)
@example(data=b"filename\tduration\n\xff\xfe.wav\t10\n")  # not UTF-8
@example(data=b"filename\tonset\toffset\tevent_label\n" + b"x" * 200_000 + b"\t0\t1\tDog\n")  # a huge field
@example(data=b"filename\tduration\na.wav\t1e400\n")
@example(data=b"filename\tonset\toffset\tevent_label\na.wav\t0\t1\tDog\x00\n")
def test_tsv_readers_raise_only_data_errors_naming_the_file(tmp_path: Path, kind: str, data: bytes):
    path = write(tmp_path, ".tsv", data)
    try:
        READERS[kind](path)
    except DataError as err:
        assert str(err).startswith(f"{path}:"), str(err)


@SETTINGS
@given(rows=st.lists(st.tuples(st.sampled_from(["a.wav", "b.wav", "c.wav"]),
                               st.floats(0, 10, allow_nan=False), st.floats(0, 10, allow_nan=False),
                               st.sampled_from(DESED_CLASSES)), max_size=6))
def test_strong_rows_parse_or_name_their_line(tmp_path: Path, rows):
    """Well-formed rows either read back exactly (merge policy off) or fail naming the file and a data line."""
    text = "filename\tonset\toffset\tevent_label\n" + "".join(f"{f}\t{a!r}\t{b!r}\t{c}\n" for f, a, b, c in rows)
    path = write(tmp_path, ".tsv", text.encode())
    try:
        labels = read_strong_tsv(path)
    except DataError as err:
        line = int(str(err).split(":", 2)[1])
        assert str(err).startswith(f"{path}:") and 2 <= line <= len(rows) + 1, str(err)
    else:
        assert len(labels.events) == len(rows)
        assert list(labels.events["onset"]) == [a for _, a, _, _ in rows]


# ---- experiment config ---------------------------------------------------------------------------------------

def schema_paths() -> list[str]:
    from sed_core.config.loading import flatten

    return sorted(flatten(ExperimentConfig()).keys())


PATHS = schema_paths()
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["paper", "tiny", "quick", "attention", "glu", "asit"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
KEYS = st.one_of(st.sampled_from(PATHS), st.text(max_size=15), st.sampled_from(["preset", "a..b", ".", "model."]))
ODD_KEYS = st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False),
                     st.tuples(st.integers()))


def check_config_error(err: ConfigError, source: str) -> None:
    """The message starts with the source; a schema error gives one line per field, each naming the source."""
    text = str(err)
    assert text.startswith(f"{source}: "), text
    if "not valid YAML" not in text:
        assert all(line.startswith(f"{source}: ") for line in text.split("\n")), text


@SETTINGS
@given(items=st.lists(st.tuples(KEYS, VALUES), max_size=6))
@example(items=[("preset", ["tiny"])])  # an unhashable preset
@example(items=[("preset", {"a": 1})])
@example(items=[("model.rnn", 3)])
def test_overrides_then_config_raise_only_config_errors(items):
    try:
        raw = apply_overrides({"preset": "tiny"}, items)
        config_from_dict(raw, source="probe.yaml")
    except ConfigError as err:
        check_config_error(err, "probe.yaml")


@SETTINGS
@given(raw=st.dictionaries(ODD_KEYS, VALUES, max_size=4))
@example(raw={1: 2})  # a non-string key at the top
@example(raw={"model": {None: 1}})
@example(raw={"training": {3: {"x": 1}}})
@example(raw={"preset": "tiny", "data": [1, 2]})
def test_config_from_any_mapping_raises_only_config_errors(raw):
    try:
        config_from_dict(raw, source="probe.yaml")
    except ConfigError as err:
        check_config_error(err, "probe.yaml")


@SETTINGS
@given(option=st.text(max_size=30))
@example(option="training.epochs=[")
@example(option="a=2001-13-40")  # a YAML date that is not a date
@example(option="=1")
@example(option="a=!!python/object:os.system x")
def test_set_options_raise_only_config_errors(option: str):
    try:
        key, value = parse_set_option(option)
        config_from_dict(apply_overrides({"preset": "tiny"}, [(key, value)]), source="--set")
    except ConfigError as err:
        assert str(err).startswith("--set"), str(err)


YAML_TEXT = st.one_of(
    st.text(max_size=120),
    st.builds(yaml.safe_dump, st.dictionaries(st.sampled_from(["preset", "model", "training", "data", "seed"]),
                                              VALUES, max_size=4)),
    st.sampled_from(["a: 2001-13-40", "seed: 2001-01-01", "? [a, b]\n: 1", "&a [*a]", "!!python/object:os.system x",
                     "a: !!binary ZZZ", "- 1", "a: {b: [", "training: {epochs: .inf}", "a: !!timestamp x",
                     "\ufeffpreset: tiny", "preset: tiny\n" + "x: " + "[" * 2000 + "]" * 2000]),
)


@SETTINGS
@given(text=YAML_TEXT)
def test_yaml_config_files_raise_only_config_errors_naming_the_file(tmp_path: Path, text: str):
    path = write(tmp_path, ".yaml", text.encode("utf-8", "surrogatepass"))
    try:
        read_yaml_mapping(path)
        load_config(path)
    except ConfigError as err:
        check_config_error(err, str(path))


@pytest.mark.parametrize("data", [b"\xff\xfe\x00bad", b"preset: tiny\x00"])
def test_unreadable_yaml_names_the_file(tmp_path: Path, data: bytes):
    path = write(tmp_path, ".yaml", data)
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


def test_every_error_is_a_project_error():
    assert issubclass(ConfigError, SedStudyError) and issubclass(DataError, SedStudyError)
