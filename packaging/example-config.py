#!/usr/bin/env python3
"""example-config.py DOCS_CONFIG_MD OUT: the YAML block under "## Example" of docs/config.md, as the packaged
/usr/share/doc/dagmedic/examples/config.yaml (one source for the docs and the package)."""
import re, sys

text = open(sys.argv[1]).read()
m = re.search(r"## Example\n\n```yaml\n(.*?)```", text, re.S)
if not m:
    sys.exit(f"example-config.py: no '## Example' yaml block in {sys.argv[1]}")
with open(sys.argv[2], "w") as f:
    f.write("# Example dagmedic configuration (docs/config.md). Copy it to ~/.config/dagmedic/config.yaml\n"
            "# (or /etc/dagmedic/config.yaml for the service) and edit it.\n" + m.group(1))
