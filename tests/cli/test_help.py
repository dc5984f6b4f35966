"""What a new user meets first: --version, help texts with defaults, usage errors that name the option."""

import argparse

import pytest

import zeronlp
from zeronlp.cli import build_parser, main


def _all_parsers(parser, prefix="zeronlp"):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, f"{prefix} {name}")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"zeronlp {zeronlp.__version__}"


def test_every_option_with_a_default_shows_it():
    missing = []
    for name, parser in _all_parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
                continue
            text = formatter._get_help_string(action) if action.help else ""
            if "default" not in text:
                missing.append(f"{name} {action.option_strings[-1]}")
    assert not missing, f"options whose help does not show the default: {missing}"


def test_no_jargon_from_outside_the_project_in_help():
    for name, parser in _all_parsers(build_parser()):
        text = parser.format_help()
        assert "seed 00" not in text, name


@pytest.mark.parametrize("argv, option", [
    (["spiral", "--lr", "-1"], "--lr"),
    (["spiral", "--epochs", "0"], "--epochs"),
    (["lm", "train", "--batch-size", "0"], "--batch-size"),
    (["lm", "generate", "--ckpt", "x", "--temperature", "0"], "--temperature"),
    (["seq2seq", "train", "--lr", "0"], "--lr"),
    (["classify", "train", "--dropout", "1.5"], "--dropout"),
    (["word2vec", "--dim", "0"], "--dim"),
    (["binary-add", "--iterations", "-5"], "--iterations"),
    (["spiral", "--threads", "0"], "--threads"),
])
def test_bad_options_exit_2_naming_the_option_with_the_subcommand_usage(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err
    assert err.startswith(f"usage: zeronlp {' '.join(a for a in argv[:2] if not a.startswith('-'))}")


def test_user_errors_name_the_full_command_and_say_what_to_do(tmp_path, capsys):
    assert main(["lm", "generate", "--ckpt", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zeronlp lm generate: error: ") and "no such run directory" in err
    assert err.count("\n") == 1  # one line, no traceback


def test_empty_start_text_is_a_usage_error(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d .\n" * 50)
    assert main(["lm", "train", "--train", str(corpus), "--epochs", "1", "--batch-size", "2", "--bptt", "4",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert main(["lm", "generate", "--ckpt", str(tmp_path / "run"), "--start", ""]) == 2
    assert "zeronlp lm generate: error: no words given" in capsys.readouterr().err
