"""The example apps' images (examples/apps) match the app specs of inventories/lab/apps: every
spec's image is built under its name, and every process's command is a program of that image."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))

from platykus_lab import example_apps  # noqa: E402

SPECS = sorted((ROOT / "inventories/lab/apps").glob("*/*.yml"))


def image_of(name: str) -> dict:
    return next(spec for spec in example_apps.image_specs() if spec["name"] == name)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_process_runs_a_program_of_its_image(path):
    spec = yaml.safe_load(path.read_text())
    image = image_of(spec["image"])
    for name, process in spec["processes"].items():
        command = process.get("command") or image["entrypoint"]
        program = command[0].removeprefix(example_apps.APP_DIR + "/")
        assert program.startswith("bin/") and program[4:] in image["programs"], (name, command)


@pytest.fixture(scope="module")
def archives():
    return example_apps.build()


def test_the_archives_carry_the_names_and_programs(archives):
    for spec, archive in zip(example_apps.image_specs(), archives):
        with tarfile.open(archive) as tar:
            index = json.load(tar.extractfile("index.json"))
            assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == spec["name"]
            manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
            config = json.load(tar.extractfile("blobs/sha256/" + manifest["config"]["digest"].split(":")[1]))
            layer = tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1])
            with tarfile.open(fileobj=layer, mode="r:gz") as files:
                names = {m.name for m in files.getmembers() if m.isfile()}
        assert names == {f"app/bin/{program}" for program in spec["programs"]}
        assert config["config"]["WorkingDir"] == "/app" and config["config"]["User"] == "10001:10001"


def test_the_build_is_cached_by_its_sources(archives):
    assert example_apps.build() == archives and all(a.exists() for a in archives)
