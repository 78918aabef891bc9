"""Lab configuration: node pools from an inventory, the nodes they make, pins and ports."""

from __future__ import annotations

import pytest
import yaml

from platykus_lab import build, config


def test_default_pools_are_three_m5_xlarge_across_three_zones():
    nodes = config.node_objects(config.DEFAULT_NODE_POOLS, "v1.34.4")
    assert len(nodes) == 3
    assert {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes} == {
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    }
    assert {n["metadata"]["labels"]["node.kubernetes.io/instance-type"] for n in nodes} == {"m5.xlarge"}


def test_node_labels_capacity_and_kwok_annotation():
    pools = config.parse_node_pools(
        [
            {
                "name": "spot",
                "count": 2,
                "instance_type": "m5.2xlarge",
                "zones": ["eu-west-1a"],
                "capacity": {"cpu": "8", "memory": "32Gi"},
                "capacity_type": "spot",
            }
        ]
    )
    node = config.node_objects(pools, "v1.34.4")[1]
    labels = node["metadata"]["labels"]
    assert node["metadata"]["name"] == "spot-1"
    assert labels["karpenter.sh/capacity-type"] == "spot"
    assert labels["eks.amazonaws.com/capacityType"] == "SPOT"
    assert labels["topology.kubernetes.io/region"] == "eu-west-1"
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["status"]["allocatable"] == {"pods": "110", "cpu": "8", "memory": "32Gi"}


@pytest.mark.parametrize(
    "pool, field",
    [
        ("not a mapping", "[0]"),
        (
            {
                "name": "Bad_Name",
                "count": 1,
                "instance_type": "m5.large",
                "zones": ["a"],
                "capacity": {"cpu": "2", "memory": "8Gi"},
            },
            "[0].name",
        ),
        (
            {
                "name": "a",
                "count": -1,
                "instance_type": "m5.large",
                "zones": ["a"],
                "capacity": {"cpu": "2", "memory": "8Gi"},
            },
            "[0].count",
        ),
        (
            {
                "name": "a",
                "count": True,
                "instance_type": "m5.large",
                "zones": ["a"],
                "capacity": {"cpu": "2", "memory": "8Gi"},
            },
            "[0].count",
        ),
        (
            {"name": "a", "count": 1, "instance_type": "", "zones": ["a"], "capacity": {"cpu": "2", "memory": "8Gi"}},
            "[0].instance_type",
        ),
        (
            {
                "name": "a",
                "count": 1,
                "instance_type": "m5.large",
                "zones": [],
                "capacity": {"cpu": "2", "memory": "8Gi"},
            },
            "[0].zones",
        ),
        (
            {"name": "a", "count": 1, "instance_type": "m5.large", "zones": ["a"], "capacity": {"cpu": "2"}},
            "[0].capacity",
        ),
        (
            {
                "name": "a",
                "count": 1,
                "instance_type": "m5.large",
                "zones": ["a"],
                "capacity": {"cpu": "two", "memory": "8Gi"},
            },
            "[0].capacity.cpu",
        ),
        (
            {
                "name": "a",
                "count": 1,
                "instance_type": "m5.large",
                "zones": ["a"],
                "capacity": {"cpu": "2", "memory": "-8Gi"},
            },
            "[0].capacity.memory",
        ),
        (
            {
                "name": "a",
                "count": 1,
                "instance_type": "m5.large",
                "zones": ["a"],
                "capacity": {"cpu": "2", "memory": "8Gi"},
                "capacity_type": "reserved",
            },
            "[0].capacity_type",
        ),
        (
            {
                "name": "a",
                "count": 1,
                "instance_type": "m5.large",
                "zones": ["a"],
                "capacity": {"cpu": "2", "memory": "8Gi"},
                "size": 3,
            },
            "[0]: unknown keys",
        ),
    ],
)
def test_bad_pools_name_the_field(pool, field):
    with pytest.raises(config.LabConfigError) as err:
        config.parse_node_pools([pool], "platykus_lab_node_pools")
    assert f"platykus_lab_node_pools{field}" in str(err.value)


def test_duplicate_pool_names_are_refused():
    pool = {
        "name": "a",
        "count": 1,
        "instance_type": "m5.large",
        "zones": ["a"],
        "capacity": {"cpu": "2", "memory": "8Gi"},
    }
    with pytest.raises(config.LabConfigError, match=r"\[1\]\.name: pool 'a' is defined twice"):
        config.parse_node_pools([pool, dict(pool)])


def test_pools_read_from_inventory(tmp_path):
    group_vars = tmp_path / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    (group_vars / "cluster.yml").write_text(
        yaml.safe_dump(
            {
                "platykus_lab_node_pools": [
                    {
                        "name": "x",
                        "count": 4,
                        "instance_type": "c5.large",
                        "zones": ["z1", "z2"],
                        "capacity": {"cpu": "2", "memory": "4Gi"},
                    }
                ]
            }
        )
    )
    pools = config.node_pools_from_inventory(tmp_path)
    assert pools[0].count == 4 and pools[0].instance_type == "c5.large"
    assert config.node_pools_from_inventory(tmp_path / "missing") == config.DEFAULT_NODE_POOLS


def test_shipped_lab_inventory_parses():
    pools = config.node_pools_from_inventory(config.LAB_DIR.parent / "inventories" / "lab")
    assert sum(p.count for p in pools) >= 3


def test_pin_change_changes_the_binary_folder():
    pins = config.load_pins()
    bumped = dict(pins, kwok="v0.0.1")
    assert config.bin_dir(pins) != config.bin_dir(bumped)
    assert config.bin_dir(pins) == config.bin_dir(dict(pins))


def test_shipped_pins_match_the_go_module():
    build.check_pins_match_module(config.load_pins())


def test_pins_that_disagree_with_go_mod_are_refused():
    with pytest.raises(config.LabConfigError, match="k8s.io/kubernetes v1.99.0"):
        build.check_pins_match_module(dict(config.load_pins(), kubernetes="v1.99.0"))


def test_free_ports_are_distinct_and_free():
    ports = {config.free_port() for _ in range(5)}
    assert all(config.port_is_free(p) for p in ports)


def test_kubeconfig_shape(tmp_path):
    kc = config.kubeconfig("c", "https://127.0.0.1:1", tmp_path / "ca.crt", "u", tmp_path / "u.crt", tmp_path / "u.key")
    assert kc["current-context"] == "c"
    assert kc["users"][0]["user"]["client-certificate"].endswith("u.crt")


def test_a_port_left_in_time_wait_by_a_dead_server_is_free_but_a_listening_one_is_not():
    import socket

    from platykus_lab.config import port_is_free

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    assert not port_is_free(port)
    conn.close()  # the server side closes first: its end of the connection stays in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    assert port_is_free(port)
