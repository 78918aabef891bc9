"""Real nodes' pure parts: addresses per slot, slot allocation, the inventory setting, rendered
configurations, and the OCI archive writer."""

from __future__ import annotations

import gzip
import hashlib
import io
import ipaddress
import json
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from platykus_lab import images, node
from platykus_lab.config import LabConfigError


def test_addresses_of_a_node_do_not_overlap_another_slot_or_node():
    seen_links, seen_pods, names = [], [], set()
    for slot in (0, 1, 249):
        for index in range(node.MAX_NODES):
            net = node.NodeNet(slot, index)
            assert ipaddress.ip_address(net.host_ip) in net.link and ipaddress.ip_address(net.node_ip) in net.link
            assert net.host_ip != net.node_ip
            seen_links.append(net.link)
            seen_pods.append(ipaddress.ip_network(net.pod_cidr))
            assert len(net.host_if) <= 15, net.host_if  # Linux interface names
            names.add(net.netns)
    every = seen_links + seen_pods
    assert all(not a.overlaps(b) for i, a in enumerate(every) for b in every[i + 1 :])
    assert len(names) == len(seen_links)
    # Clear of the lab's Service range and kwok's pod IPs.
    for network in every:
        assert not network.overlaps(ipaddress.ip_network("10.96.0.0/16"))
        assert not network.overlaps(ipaddress.ip_network("10.244.0.0/16"))


def test_slot_allocation_skips_taken_slots_and_is_stable(tmp_path):
    home = tmp_path / "labs" / "a"
    first = node.allocate_slot(home, set())
    assert first == node.preferred_slot(home) and node.allocate_slot(home, set()) == first
    assert node.allocate_slot(home, {first}) == (first + 1) % node.SLOTS
    with pytest.raises(node.NodeError, match="slots are taken"):
        node.allocate_slot(home, set(range(node.SLOTS)))


def test_real_nodes_setting_is_validated_naming_the_field(tmp_path, monkeypatch):
    monkeypatch.delenv("PLATYKUS_LAB_REAL_NODES", raising=False)
    assert node.real_nodes_from_inventory(None) == 1
    inventory = tmp_path / "inv"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "group_vars" / "all" / "cluster.yml").write_text(yaml.safe_dump({"platykus_lab_real_nodes": 2}))
    assert node.real_nodes_from_inventory(inventory) == 2
    (inventory / "group_vars" / "all" / "cluster.yml").write_text(yaml.safe_dump({"platykus_lab_real_nodes": 9}))
    with pytest.raises(LabConfigError, match=r"platykus_lab_real_nodes: 9 must be a whole number from 0 to 4"):
        node.real_nodes_from_inventory(inventory)
    monkeypatch.setenv("PLATYKUS_LAB_REAL_NODES", "0")
    assert node.real_nodes_from_inventory(inventory) == 0
    monkeypatch.setenv("PLATYKUS_LAB_REAL_NODES", "yes")
    with pytest.raises(LabConfigError, match="PLATYKUS_LAB_REAL_NODES"):
        node.real_nodes_from_inventory(inventory)


def test_lab_inventory_runs_one_real_node(monkeypatch):
    monkeypatch.delenv("PLATYKUS_LAB_REAL_NODES", raising=False)
    assert node.real_nodes_from_inventory(Path(__file__).resolve().parents[2] / "inventories" / "lab") == 1


def _paths(tmp_path: Path) -> dict[str, Path]:
    keys = ("root", "state", "socket", "opt", "runc", "cni_conf", "pod_logs", "volume_plugins", "resolv_conf")
    return {key: tmp_path / key for key in keys}


def test_containerd_config_keeps_everything_under_the_node_and_restricts_oom_score(tmp_path):
    paths = _paths(tmp_path)
    config = tomllib.loads(node.containerd_config(paths, "platykus.local/lab/pause:abc"))
    assert config["version"] == 2
    assert config["root"] == str(paths["root"]) and config["state"] == str(paths["state"])
    assert config["grpc"]["address"] == str(paths["socket"])
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "platykus.local/lab/pause:abc"
    assert cri["restrict_oom_score_adj"] is True and cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False and runc["options"]["Root"] == str(paths["runc"])
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": str(paths["cni_conf"]), "max_conf_num": 1}


def test_cni_kubelet_and_proxy_configs_use_the_nodes_addresses(tmp_path):
    net = node.NodeNet(7, 1)
    cni = node.cni_config(net, tmp_path / "ipam")
    bridge = cni["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["hairpinMode"] and bridge["isGateway"]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.249.7.0/24"}]]
    assert bridge["ipam"]["dataDir"] == str(tmp_path / "ipam")
    assert [p["type"] for p in cni["plugins"]] == ["bridge", "portmap"]

    files = {"ca_cert": tmp_path / "ca.crt", "serving_cert": tmp_path / "s.crt", "serving_key": tmp_path / "s.key"}
    kubelet = node.kubelet_config(net, _paths(tmp_path), files)
    assert kubelet["address"] == net.node_ip == "10.252.7.6" and kubelet["readOnlyPort"] == 0
    assert kubelet["cgroupDriver"] == "cgroupfs" and kubelet["failCgroupV1"] is False
    assert kubelet["cgroupRoot"] == "/platykus-plk7n1"
    assert kubelet["authentication"]["anonymous"]["enabled"] is False
    assert kubelet["authorization"]["mode"] == "Webhook"
    assert kubelet["registerWithTaints"] == [{"key": node.REAL_NODE_TAINT_KEY, "value": "true", "effect": "NoSchedule"}]

    proxy = node.kube_proxy_config(net, tmp_path / "kubeconfig")
    assert proxy["mode"] == "iptables" and proxy["nodePortAddresses"] == ["10.252.7.6/32"]
    assert proxy["iptables"]["localhostNodePorts"] is False
    assert proxy["conntrack"]["maxPerCore"] == 0  # leaves the machine's nf_conntrack_max alone


def test_node_labels_are_ones_node_restriction_lets_a_kubelet_set():
    labels = node.node_labels()
    assert labels[node.REAL_NODE_LABEL] == node.REAL_NODE_LABEL_VALUE
    allowed_kubernetes_io = {
        "node.kubernetes.io/instance-type",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
    }
    for key in labels:
        prefix = key.split("/", 1)[0] if "/" in key else ""
        if prefix.endswith(("kubernetes.io", "k8s.io")):
            assert key in allowed_kubernetes_io, key


# -- the OCI writer ------------------------------------------------------------------------------
def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_oci_archive_is_a_valid_layout_naming_the_image(tmp_path):
    tool = tmp_path / "tool"
    tool.write_bytes(b"#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    archive = images.write_oci_archive(
        tmp_path / "out.tar",
        "platykus.local/apps/web:1.0",
        [{"/app/run": tool, "/etc/motd": b"hello\n"}],
        entrypoint=["/app/run"],
        env={"PORT": "8080"},
        user="10001",
        exposed_ports=(8080,),
    )
    files = _members(archive)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    [entry] = index["manifests"]
    assert entry["annotations"][images.NAME_ANNOTATION] == "platykus.local/apps/web:1.0"
    assert images.archive_names(archive) == ["platykus.local/apps/web:1.0"]

    def blob(digest: str) -> bytes:
        data = files[f"blobs/sha256/{digest.split(':', 1)[1]}"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest  # content-addressed
        return data

    manifest = json.loads(blob(entry["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    assert config["config"]["Entrypoint"] == ["/app/run"] and config["config"]["User"] == "10001"
    assert "PORT=8080" in config["config"]["Env"] and config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    [layer] = manifest["layers"]
    assert layer["mediaType"] == images.OCI_LAYER
    raw = gzip.decompress(blob(layer["digest"]))
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(raw).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"app", "app/run", "etc", "etc/motd"}
        assert members["app/run"].mode == 0o755 and members["etc/motd"].mode == 0o644
        assert tar.extractfile("app/run").read() == tool.read_bytes()


def test_oci_archive_is_reproducible_and_layers_from_directories(tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "x").write_bytes(b"x")
    first = images.write_oci_archive(tmp_path / "a.tar", "platykus.local/x:1", [root], entrypoint=["/bin/x"])
    second = images.write_oci_archive(tmp_path / "b.tar", "platykus.local/x:1", [root], entrypoint=["/bin/x"])
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("web", "give a tagged reference"),
        ("platykus.local/web:latest", "the tag `latest`"),
        ("registry:5000/web", "give a tagged reference"),
    ],
)
def test_image_names_must_be_pinned(tmp_path, name, message):
    with pytest.raises(LabConfigError, match=message):
        images.write_oci_archive(tmp_path / "x.tar", name, [{"/x": b"x"}], entrypoint=["/x"])


def test_layer_paths_must_stay_inside_the_image(tmp_path):
    with pytest.raises(images.ImageError, match="must be an absolute path inside the image"):
        images.write_oci_archive(tmp_path / "x.tar", "platykus.local/x:1", [{"/../etc/x": b"x"}], entrypoint=["/x"])
