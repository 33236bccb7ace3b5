"""The command line as a user meets it (issue 23): every option explained, one default shown once in one
style, one type per flag name, an example that parses in every command's --help, shell completion."""
from __future__ import annotations

import json
import shlex

import click
import pytest
from click.testing import CliRunner

from mtpf_deploy.cli import main
from mtpf_deploy.cli.examples import EXAMPLES
from mtpf_deploy.cli.options import SettingOption


def commands(group: click.Group = main, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


ALL = dict(commands())
# a flag name that means different things in different commands, so its type differs on purpose
DIFFERENT_ON_PURPOSE = {
    "--out": "a file (pack, keygen) or a folder (export, adapt, bench)",
    "--adapter": "a folder (pack), a name or file (predict, bench), a run's LoRA (evaluate)",
    "--adapters": "several adapters (export) or one list (pretrain)",
    "--backend": "several backbones to write (export) or the one to run (predict)",
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_option_is_explained_with_its_default_shown_once(name):
    command = ALL[name]
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        assert param.help, f"{name} {param.opts[0]} has no help text"
        if isinstance(param, SettingOption) and param.shown_default is not None:
            assert "(default" not in param.help, f"{name} {param.opts[0]} states its default twice"
    res = CliRunner().invoke(main, [*name.split(), "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "[default: (" not in res.output  # one style: [default: 128], as click's own options


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_command_shows_an_example_that_parses(name):
    example = EXAMPLES[name]
    assert f"mtpf-deploy {name} " in example
    res = CliRunner().invoke(main, [*name.split(), "--help"], terminal_width=300)
    assert "Example:" in res.output and example in res.output
    args = shlex.split(example)[1 + len(name.split()):]
    ALL[name].make_context(name, args)  # every flag exists, values convert, required ones are there


def test_a_flag_name_has_one_type_everywhere():
    kinds: dict[str, set] = {}
    for command in ALL.values():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and param.opts[0] not in DIFFERENT_ON_PURPOSE:
                metavar = param.make_metavar(click.Context(command)) if hasattr(param, "make_metavar") else ""
                element = metavar.replace("[,...]", "").strip("[]") if "[,...]" in metavar else param.type.name
                kinds.setdefault(param.opts[0], set()).add(element.lower())
    mixed = {flag: k for flag, k in kinds.items() if len(k) > 1}
    assert not mixed, mixed


def test_datasets_json_and_shell_completion():
    res = CliRunner().invoke(main, ["datasets", "--json"])
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert res.exit_code == 0 and {"name", "task", "splits", "license"} <= set(rows[0])
    assert any(r["name"] == "conll2003" and r["task"] == "ner" for r in rows)
    env = {"_MTPF_DEPLOY_COMPLETE": "bash_complete", "COMP_WORDS": "mtpf-deploy pa", "COMP_CWORD": "1"}
    res = CliRunner().invoke(main, [], env=env, prog_name="mtpf-deploy")
    assert "plain,pack" in res.output
