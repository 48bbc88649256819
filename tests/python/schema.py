"""Validates documents against an official JSON Schema with the `jsonschema` library (pinned in
tests/python-requirements.txt), and prints every error as JSON, for tests/it to assert on.

    schema.py SCHEMA DOCUMENT...             each document against the schema
    schema.py SCHEMA --def NAME DOCUMENT...  each document against the schema's $defs/NAME

The validator is the one the schema's own `$schema` names (draft 2019-09 for Open Badges 3.0),
with the format checks jsonschema makes. Prints {"validator": ..., "errors": {DOCUMENT: [...]}}.
"""

import importlib.metadata
import json
import sys

import jsonschema
from referencing import Registry, Resource


def main(args):
    schema_path, rest = args[0], args[1:]
    with open(schema_path) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    target = schema
    if rest[:1] == ["--def"]:
        name, rest = rest[1], rest[2:]
        resource = Resource.from_contents(schema)
        registry = Registry().with_resource(schema["$id"], resource)
        target = {"$schema": schema["$schema"], "$ref": f"{schema['$id']}#/$defs/{name}"}
        validator = cls(target, registry=registry, format_checker=cls.FORMAT_CHECKER)
    else:
        validator = cls(target, format_checker=cls.FORMAT_CHECKER)
    errors = {}
    for path in rest:
        with open(path) as f:
            document = json.load(f)
        errors[path] = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        ]
    version = importlib.metadata.version("jsonschema")
    print(json.dumps({"validator": f"{cls.__name__} (jsonschema {version})", "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1:])
