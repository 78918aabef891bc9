"""The lab command's parsing: --name/--home before or after the subcommand, and status's exit code."""

from __future__ import annotations

import argparse

import pytest

from platykus_lab import cli


@pytest.mark.parametrize("command", ["up", "down", "status", "env"])
@pytest.mark.parametrize(
    ("argv", "name", "home"),
    [
        (["{cmd}"], "default", None),
        (["--name", "x", "{cmd}"], "x", None),
        (["{cmd}", "--name", "x"], "x", None),
        (["{cmd}", "--name=x", "--home", "/h"], "x", "/h"),
        (["--home", "/h", "{cmd}", "--name", "x"], "x", "/h"),
        # Given on both sides, the one after the subcommand (the nearer one) wins.
        (["--name", "a", "{cmd}", "--name", "b"], "b", None),
    ],
)
def test_name_and_home_before_or_after_the_subcommand(monkeypatch, command, argv, name, home):
    monkeypatch.delenv("PLATYKUS_LAB", raising=False)
    args = cli.build_parser().parse_args([a.format(cmd=command) for a in argv])
    assert (args.command, args.name, args.home) == (command, name, home)


def test_name_defaults_to_the_environment_and_an_option_overrides_it(monkeypatch):
    monkeypatch.setenv("PLATYKUS_LAB", "from-env")
    assert cli.build_parser().parse_args(["status"]).name == "from-env"
    assert cli.build_parser().parse_args(["status", "--name", "given"]).name == "given"


def test_subcommand_options_still_parse_beside_name():
    args = cli.build_parser().parse_args(["up", "--inventory", "inv", "--name", "x", "--timeout", "5"])
    assert (args.inventory, args.name, args.timeout) == ("inv", "x", 5.0)
    args = cli.build_parser().parse_args(["down", "--purge", "--name", "x"])
    assert (args.purge, args.name) == (True, "x")


def test_build_takes_no_lab_name():
    # Binaries are shared by every lab: a --name there would be silently meaningless.
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["build", "--name", "x"])


class _FakeLab:
    def __init__(self, status: dict):
        self._status = status

    def status(self) -> dict:
        return self._status


def _status(ready: bool, problem: str | None) -> dict:
    component = {"pid": 42, "port": 20001, "log": "/l", "healthy": problem is None, "problem": problem}
    return {
        "name": "x",
        "server": "https://127.0.0.1:20000",
        "kubeconfig": "/k",
        "ready": ready,
        "problems": [f"kube-controller-manager: {problem}"] if problem else [],
        "components": {"kube-controller-manager": component},
        "nodes": {"general-0": "Ready"},
    }


@pytest.mark.parametrize(("ready", "problem", "code"), [(True, None, 0), (False, "not running", cli.NOT_READY)])
def test_status_exits_non_zero_and_names_the_unhealthy_component(capsys, ready, problem, code):
    args = argparse.Namespace(json=False)
    assert cli._status(_FakeLab(_status(ready, problem)), args) == code
    out = capsys.readouterr().out
    if problem:
        assert "kube-controller-manager" in out and "UNHEALTHY: not running" in out and "(not ready)" in out
    else:
        assert "healthy" in out and "UNHEALTHY" not in out and "(ready)" in out
