#!/usr/bin/env python3
"""Writes the part of an OVSDB schema that ovsplane uses (a build step, never run at runtime).

    schema_subset.py IN OUT Table:col,col,... [Table:col,...]

Keeps the named tables with only the named columns, their column definitions unchanged, and the
indexes whose columns are all kept. The IDL generated from the subset replicates and parses only
those columns: a row costs what ovsplane reads, not what ovs-vswitchd keeps (Interface alone has
35 columns). Fails on a table or column the schema does not have.
"""
import json
import sys


def subset(schema, wanted):
    tables = {}
    for table, columns in wanted.items():
        full = schema["tables"][table]  # KeyError names a table the schema lacks
        kept = {name: full["columns"][name] for name in columns}
        out = {key: value for key, value in full.items() if key not in ("columns", "indexes")}
        out["columns"] = kept
        indexes = [index for index in full.get("indexes", []) if all(c in kept for c in index)]
        if indexes:
            out["indexes"] = indexes
        tables[table] = out
    return {"name": schema["name"], "version": schema["version"], "tables": tables}


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    with open(argv[1]) as source:
        schema = json.load(source)
    wanted = {}
    for spec in argv[3:]:
        table, _, columns = spec.partition(":")
        wanted[table] = columns.split(",")
    with open(argv[2], "w") as out:
        json.dump(subset(schema, wanted), out, indent=1, sort_keys=True)
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv)
