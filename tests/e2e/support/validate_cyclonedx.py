"""Validate a CycloneDX JSON document against the official JSON schema.

Usage: validate_cyclonedx.py SPEC_VERSION FILE

The schemas are the ones PyPI's cyclonedx-python-lib ships (copies of
CycloneDX/specification's schema/ folder, with their $refs to the SPDX
licence list and JSF renamed to *.SNAPSHOT.schema.json). They are loaded
into a `referencing` registry so that no network is used, and validated
with `jsonschema`'s Draft 7 validator (the schemas' own $schema) and its
format checker. Exit 0 when valid; 1 with every error on stderr when not.
"""

import json
import os
import sys

import cyclonedx
import jsonschema
from referencing import Registry, Resource


def main() -> int:
    spec, path = sys.argv[1], sys.argv[2]
    res = os.path.join(os.path.dirname(cyclonedx.__file__), "schema", "_res")
    base = "http://cyclonedx.org/schema/"
    resources = []
    for name in ("spdx", "jsf-0.82", f"bom-{spec}"):
        with open(os.path.join(res, f"{name}.SNAPSHOT.schema.json"), encoding="utf-8") as f:
            schema = json.load(f)
        resource = Resource.from_contents(schema)
        # Reachable both under its $id and under the SNAPSHOT name the
        # bom schema's relative $refs resolve to.
        resources.append((schema["$id"], resource))
        resources.append((base + f"{name}.SNAPSHOT.schema.json", resource))
    registry = Registry().with_resources(resources)
    with open(os.path.join(res, f"bom-{spec}.SNAPSHOT.schema.json"), encoding="utf-8") as f:
        bom_schema = json.load(f)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    validator = jsonschema.Draft7Validator(
        bom_schema,
        registry=registry,
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors:
        where = "/".join(str(p) for p in e.absolute_path)
        print(f"invalid at /{where}: {e.message}", file=sys.stderr)
    if errors:
        return 1
    print(f"valid CycloneDX {spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
