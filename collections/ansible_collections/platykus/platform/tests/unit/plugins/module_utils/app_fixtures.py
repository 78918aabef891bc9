# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A valid app catalog and app spec the app tests mutate."""

from __future__ import annotations

import copy

CATALOG = {
    "sizes": {
        "basic": {"cpu": "100m", "memory": "256Mi", "limits_cpu": "500m", "limits_memory": "256Mi"},
        "standard-1x": {"cpu": "250m", "memory": "512Mi", "limits_cpu": "1", "limits_memory": "512Mi"},
        "performance-m": {"cpu": "1", "memory": "2Gi", "limits_cpu": "2", "limits_memory": "2Gi"},
    },
    "registries": ["registry.example.com/"],
}

SPEC = {
    "name": "shop",
    "tenant": "acme",
    "environment": "dev",
    "image": "registry.example.com/acme/shop:1.0.0",
    "processes": {
        "web": {
            "command": ["bin/server"],
            "port": 8080,
            "health_path": "/healthz",
            "size": "standard-1x",
            "replicas": 2,
        },
        "worker": {"command": "bin/worker", "size": "basic", "autoscale": {"min": 1, "max": 3, "cpu_percent": 70}},
        "release": {"command": ["bin/migrate"], "size": "basic"},
        "cleanup": {"command": ["bin/cleanup"], "schedule": "0 3 * * *", "size": "basic"},
        "indexer": {"command": ["bin/index"], "size": "basic", "replicas": 1},
    },
    "domains": ["shop.acme.apps.example.com"],
    "config": {"LOG_LEVEL": "info", "WORKERS": 4, "DEBUG": False},
    "secrets": {"DATABASE_PASSWORD": {"key": "platykus/acme/db", "property": "password"}},
    "volumes": {"cache": {"size": "1Gi", "mount": "/cache", "process": "indexer", "storage_class": "standard"}},
}
TENANT_DOMAINS = ("acme.apps.example.com",)


def spec(**changes) -> dict:
    out = copy.deepcopy(SPEC)
    out.update(changes)
    return out
