"""Container images without a registry: OCI archives written here, imported into a lab's real nodes.

`write_oci_archive` writes an OCI image layout as one tar (oci-layout, index.json naming the image
with the `io.containerd.image.name` annotation, a config and gzip layers), reproducibly: the same
inputs give the same bytes and digests. `load` imports an archive into every real node of a lab
(`ctr -n k8s.io images import`), where the kubelet finds it by name (imagePullPolicy IfNotPresent).
The pause image (the pods' sandbox) is built from lab/go/pause with the lab's Go toolchain.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .config import GO_MODULE_DIR, LabConfigError, cache_root

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# containerd's `ctr images import` names an image after this annotation of index.json.
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
CRI_NAMESPACE = "k8s.io"
# Bump when the way the lab's program images are built changes.
PAUSE_RECIPE = "program-image/1"

Layer = Path | Mapping[str, "bytes | Path | tuple[bytes, int]"]


class ImageError(RuntimeError):
    """An image could not be written or loaded; the message says which and why."""


def _tar_info(name: str, size: int = 0, mode: int = 0o644, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type = size, mode, kind
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def layer_tar(layer: Layer) -> bytes:
    """The uncompressed tar of one layer: a directory's tree, or {path in image: content}.

    A content is bytes (mode 0644), (bytes, mode) or a Path (copied, its mode kept). Entries are
    sorted and carry no times or owners, so a layer's digest depends on its content only.
    """
    entries: dict[str, tuple[bytes, int] | None] = {}  # None: a directory
    if isinstance(layer, Path):
        if not layer.is_dir():
            raise ImageError(f"layer {layer}: not a directory; give a directory or a mapping of paths to contents")
        for path in sorted(layer.rglob("*")):
            rel = path.relative_to(layer).as_posix()
            mode = path.lstat().st_mode & 0o7777
            entries[rel] = None if path.is_dir() else (path.read_bytes(), mode)
    else:
        for target, content in layer.items():
            rel = target.strip("/")
            if not rel or ".." in rel.split("/"):
                raise ImageError(f"layer path {target!r}: must be an absolute path inside the image, e.g. /app/run")
            if isinstance(content, Path):
                entries[rel] = (content.read_bytes(), content.stat().st_mode & 0o7777)
            elif isinstance(content, tuple):
                entries[rel] = (bytes(content[0]), int(content[1]))
            else:
                entries[rel] = (bytes(content), 0o644)
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                entries.setdefault("/".join(parts[:depth]), None)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(entries):
            entry = entries[rel]
            if entry is None:
                tar.addfile(_tar_info(rel + "/", mode=0o755, kind=tarfile.DIRTYPE))
            else:
                data, mode = entry
                tar.addfile(_tar_info(rel, len(data), mode), io.BytesIO(data))
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as stream:
        stream.write(data)
    return buffer.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_image_name(name: str) -> None:
    """A full reference with a tag that is not `latest` (the kubelet would always pull that)."""
    last = name.rsplit("/", 1)[-1]
    if not name or name != name.strip() or ":" not in last or "@" in name:
        raise LabConfigError(f"image name {name!r}: give a tagged reference, e.g. platykus.local/apps/web:1.0")
    if last.endswith(":latest"):
        raise LabConfigError(
            f"image name {name!r}: the tag `latest` makes the kubelet pull from a registry; pin a version tag"
        )


def write_oci_archive(
    out: Path,
    name: str,
    layers: Sequence[Layer],
    entrypoint: Sequence[str],
    cmd: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    workdir: str = "/",
    user: str = "",
    exposed_ports: Sequence[int] = (),
    labels: Mapping[str, str] | None = None,
) -> Path:
    """Write an OCI image archive named ``name`` to ``out``; returns ``out``."""
    check_image_name(name)
    if not layers:
        raise ImageError(f"image {name}: give at least one layer")
    blobs: dict[str, bytes] = {}
    layer_descs, diff_ids = [], []
    for layer in layers:
        raw = layer_tar(layer)
        packed = _gzip(raw)
        diff_ids.append(_digest(raw))
        digest = _digest(packed)
        blobs[digest] = packed
        layer_descs.append({"mediaType": OCI_LAYER, "digest": digest, "size": len(packed)})
    environment = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})}
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": list(entrypoint),
            "Cmd": list(cmd),
            "Env": [f"{key}={value}" for key, value in environment.items()],
            "WorkingDir": workdir,
            **({"User": user} if user else {}),
            **({"ExposedPorts": {f"{port}/tcp": {} for port in exposed_ports}} if exposed_ports else {}),
            **({"Labels": dict(labels)} if labels else {}),
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "platykus-lab images.write_oci_archive"} for _ in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = _digest(config_bytes)
    blobs[config_digest] = config_bytes
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": layer_descs,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = _digest(manifest_bytes)
    blobs[manifest_digest] = manifest_bytes
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {NAME_ANNOTATION: name, REF_ANNOTATION: name.rsplit(":", 1)[1]},
            }
        ],
    }
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
        **{f"blobs/sha256/{digest.split(':', 1)[1]}": data for digest, data in blobs.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("blobs/", "blobs/sha256/"):
            tar.addfile(_tar_info(directory, mode=0o755, kind=tarfile.DIRTYPE))
        for path in sorted(files):
            tar.addfile(_tar_info(path, len(files[path])), io.BytesIO(files[path]))
    os.replace(partial, out)
    return out


def archive_names(archive: Path) -> list[str]:
    """The image names an OCI archive carries (index.json's name annotations)."""
    try:
        with tarfile.open(archive) as tar:
            member = tar.extractfile("index.json")
            index = json.loads(member.read()) if member else {}
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError) as err:
        raise ImageError(f"{archive}: not an OCI image archive ({err})") from err
    names = [(m.get("annotations") or {}).get(NAME_ANNOTATION) for m in index.get("manifests", [])]
    if not all(names):
        raise ImageError(f"{archive}: a manifest in index.json has no {NAME_ANNOTATION} annotation")
    return [str(n) for n in names]


# ------------------------------------------------------------- images of the lab's Go programs
# Programs of lab/go built into images: the pause image (the pods' sandbox) and labecho (the real
# node's test server and client). Static (CGO_ENABLED=0) with the lab's Go toolchain, which every
# setup has (gcc and a static libc need not be installed).
GO_IMAGES = {"pause": {"user": "65535"}, "labecho": {"user": "10001"}}


def _program_digest(program: str) -> str:
    digest = hashlib.sha256(f"{PAUSE_RECIPE}/{program}".encode())
    for path in sorted((GO_MODULE_DIR / program).glob("*.go")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def program_image_name(program: str) -> str:
    return f"platykus.local/lab/{program}:{_program_digest(program)}"


def program_archive(program: str) -> Path:
    """The archive of one of lab/go's programs as an image, built once per source."""
    if program not in GO_IMAGES:
        raise ImageError(f"no lab program {program!r}; one of {', '.join(GO_IMAGES)}")
    target = cache_root() / "lab" / "images" / f"{program}-{_program_digest(program)}"
    archive = target / f"{program}.tar"
    if archive.exists():
        return archive
    target.mkdir(parents=True, exist_ok=True)
    binary = target / program
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-buildvcs=false")
    proc = subprocess.run(
        ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), f"./{program}"],
        cwd=GO_MODULE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise ImageError(f"building the {program} image failed: {proc.stderr.strip()[-500:]}")
    return write_oci_archive(
        archive,
        program_image_name(program),
        [{f"/{program}": binary}],
        entrypoint=[f"/{program}"],
        user=GO_IMAGES[program]["user"],
    )


def pause_image_name() -> str:
    return program_image_name("pause")


def pause_archive() -> Path:
    return program_archive("pause")


# -------------------------------------------------------------------------- loading into a lab
def import_archive(ctr: str, socket: Path, archive: Path) -> list[str]:
    """Import one archive into the containerd at ``socket`` (CRI namespace); return its names."""
    names = archive_names(archive)
    proc = subprocess.run(
        [ctr, "-a", str(socket), "-n", CRI_NAMESPACE, "images", "import", str(archive)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise ImageError(f"importing {archive} into {socket} failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return names


def load(lab, archive: Path) -> list[str]:
    """Import an OCI archive into every real node of ``lab`` (a cluster.Lab); return its image names."""
    from . import node

    sockets = node.running_sockets(lab)
    if not sockets:
        raise ImageError(f"lab '{lab.name}' runs no real node; `platykus-lab up` it with platykus_lab_real_nodes >= 1")
    names: list[str] = []
    for socket in sockets:
        names = import_archive(node.CTR, socket, Path(archive))
    return names


def list_images(lab) -> list[str]:
    """The images of the lab's first real node (every node gets the same imports)."""
    from . import node

    sockets = node.running_sockets(lab)
    if not sockets:
        return []
    proc = subprocess.run(
        [node.CTR, "-a", str(sockets[0]), "-n", CRI_NAMESPACE, "images", "list", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise ImageError(f"listing images failed: {proc.stderr.strip()[-300:]}")
    return sorted(line for line in proc.stdout.splitlines() if line and not line.startswith("sha256:"))
