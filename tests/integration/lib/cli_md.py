#!/usr/bin/env python3
"""tests/integration/lib/cli_md.py: docs/cli.md's reference is what
`drover help --markdown` prints (the option tables of coordinator/cmd_*.c
and the exit statuses of coordinator/cmd.c). Usage:

    cli_md.py DROVER docs/cli.md           # check: exit 1 and a diff if stale
    cli_md.py DROVER docs/cli.md --write   # rewrite the region (make docs-cli)

The region lies between the lines BEGIN and END below."""
import difflib
import subprocess
import sys

BEGIN = "<!-- BEGIN drover help --markdown -->"
END = "<!-- END drover help --markdown -->"


def main():
    drover, path = sys.argv[1], sys.argv[2]
    write = sys.argv[3:] == ["--write"]
    gen = subprocess.run([drover, "help", "--markdown"], check=True,
                         capture_output=True, text=True).stdout
    text = open(path).read()
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        old, tail = rest.split(END + "\n", 1)
    except ValueError:
        sys.exit(f"{path}: no {BEGIN} ... {END} region")
    if write:
        open(path, "w").write(head + BEGIN + "\n" + gen + END + "\n" + tail)
        return
    if old != gen:
        sys.stdout.writelines(difflib.unified_diff(
            old.splitlines(True), gen.splitlines(True), path,
            "drover help --markdown"))
        sys.exit(f"{path} differs from `drover help --markdown`: run make docs-cli")


main()
