"""Keep of a Kubernetes JSON schema only what the course's manifests need.

    cd deploy/kubernetes/schema && python trim.py SCHEMA_DIR v1.35.0 > v1.35.0.json

SCHEMA_DIR is a folder of the PyPI package kubernetes-validate
(``kubernetes_validate/kubernetes-json-schema/v1.35.0-local-strict``): its
``_definitions.json`` is Kubernetes' OpenAPI definitions as JSON Schema (draft 2020-12),
strict (no property a definition does not name). Written out: the definitions reachable
from :data:`KINDS`, without their descriptions, in one file (deploy/kubernetes/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: apiVersion, kind -> definition: what deploy/kubernetes/*.yaml may hold.
KINDS = {("batch/v1", "Job"): "io.k8s.api.batch.v1.Job",
         ("v1", "Secret"): "io.k8s.api.core.v1.Secret",
         ("v1", "PersistentVolumeClaim"): "io.k8s.api.core.v1.PersistentVolumeClaim"}
PREFIX = "#/$defs/"


def refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"][len(PREFIX):]} if node.get("$ref", "").startswith(PREFIX) else set()
        return found.union(*(refs(v) for k, v in node.items() if k != "$ref"))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def trim(definitions: dict, version: str) -> dict:
    keep, todo = set(), set(KINDS.values())
    while todo:
        name = todo.pop()
        keep.add(name)
        todo |= refs(definitions["$defs"][name]) - keep
    return {"$schema": definitions["$schema"], "$id": definitions["$id"],
            "x-kubernetes-version": version,
            "x-kinds": {f"{api} {kind}": name for (api, kind), name in KINDS.items()},
            "$defs": {name: strip(definitions["$defs"][name]) for name in sorted(keep)}}


if __name__ == "__main__":
    source = json.loads((Path(sys.argv[1]) / "_definitions.json").read_text())
    json.dump(trim(source, sys.argv[2]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
