#!/usr/bin/env python3
"""Man pages for dagmedic, generated from the CLI's own --help (CLI11 layout).

gen-manpages.py DAGMEDIC OUTDIR [DATE]
Writes OUTDIR/dagmedic.1.gz (the command list) and one OUTDIR/dagmedic-CMD.1.gz per command of
`dagmedic --help`; a command with subcommands (logs, approvals, audit) gets each subcommand's own
--help as a section. gzip -9 -n, mtime 0: the output depends only on the binary and DATE.
Fails (exit 1) if a command's --help does not exit 0 or has no Usage line.
"""
import gzip, os, re, subprocess, sys

BIN, OUT = sys.argv[1], sys.argv[2]
DATE = sys.argv[3] if len(sys.argv) > 3 else "2026-12-07"


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit(f"gen-manpages: `dagmedic {' '.join(args)}` exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def esc(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return s


def line(s):
    s = esc(s)
    return "\\&" + s if s[:1] in (".", "'") else s


def parse(text):
    """CLI11 help → (description, usage, [(section, [(term, desc)])])."""
    lines = text.rstrip("\n").split("\n")
    desc, usage, sections, cur = [], None, [], None
    for ln in lines:
        if ln.startswith("Usage:"):
            usage = ln[len("Usage:"):].strip()
        elif usage is None:
            if ln.strip():
                desc.append(ln.strip())
        elif re.match(r"^[A-Z][A-Za-z ]*:$", ln):
            cur = (ln[:-1], [])
            sections.append(cur)
        elif cur is not None and re.match(r"^  \S", ln):
            parts = re.split(r"\s{2,}", ln.strip(), maxsplit=1)
            cur[1].append([parts[0], parts[1] if len(parts) > 1 else ""])
        elif cur is not None and ln.strip() and cur[1]:
            cur[1][-1][1] = (cur[1][-1][1] + " " + ln.strip()).strip()
    if usage is None:
        sys.exit("gen-manpages: no Usage line in:\n" + text)
    # CLI11 names a subcommand app by its own name ("Usage: doctor"): always show the full command.
    if not usage.startswith("dagmedic"):
        usage = "dagmedic " + usage
    return " ".join(desc), usage, sections


def items(out, entries):
    for term, d in entries:
        out.append(".TP")
        out.append("\\fB" + esc(term) + "\\fR")
        if d:
            out.append(line(d))


def page(name, summary, text, subs=(), see=()):
    desc, usage, sections = parse(text)
    out = [f'.TH {esc(name.upper())} 1 "{DATE}" "dagmedic {VERSION}" "dagmedic manual"',
           ".SH NAME", f"{esc(name)} \\- {line(desc or summary)}",
           ".SH SYNOPSIS", "\\fB" + esc(usage) + "\\fR",
           ".SH DESCRIPTION", line(desc)]
    for title, entries in sections:
        out.append(".SH " + esc(title.upper()))
        items(out, entries)
    for sub, subtext in subs:
        sdesc, susage, ssections = parse(subtext)
        out += [".SH " + esc(sub.upper()), "\\fB" + esc(susage) + "\\fR", ".PP", line(sdesc)]
        for title, entries in ssections:
            if title == "Options":
                entries = [e for e in entries if not e[0].startswith("-h,")]
            if entries:
                out += [".PP", "\\fI" + esc(title) + "\\fR"]
                items(out, entries)
    out += [".SH FILES",
            ".TP", "\\fI/etc/dagmedic/config.yaml\\fR",
            "the packaged service's configuration (dagmedic.service); a user's own is "
            "\\fI~/.config/dagmedic/config.yaml\\fR or \\fB$DAGMEDIC_CONFIG\\fR",
            ".TP", "\\fI/usr/share/doc/dagmedic/examples/config.yaml\\fR", "an annotated example configuration",
            ".TP", "\\fI/usr/share/dagmedic/rules/\\fR",
            "the built-in redaction and category rules (compiled in; the format of your own rule files)",
            ".SH SEE ALSO", ", ".join(f"\\fB{esc(s)}\\fR(1)" for s in see)]
    data = ("\n".join(out) + "\n").encode()
    path = os.path.join(OUT, name + ".1.gz")
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
            g.write(data)
    return path


os.makedirs(OUT, exist_ok=True)
VERSION = run("version").split()[1]
top = run("--help")
cmds = []
for ln in top.split("\n"):
    m = re.match(r"^  ([a-z][a-z-]*)\s+(.*)$", ln)
    if m:
        cmds.append((m.group(1), m.group(2)))
if len(cmds) < 5:
    sys.exit("gen-manpages: too few commands in `dagmedic --help`:\n" + top)
names = ["dagmedic"] + [f"dagmedic-{c}" for c, _ in cmds]

# dagmedic(1): the command list is the top-level usage text.
out = [f'.TH DAGMEDIC 1 "{DATE}" "dagmedic {VERSION}" "dagmedic manual"', ".SH NAME",
       "dagmedic \\- MCP server and CLI for incident response on Apache Airflow and Amazon MWAA",
       ".SH SYNOPSIS", "\\fBdagmedic\\fR \\fIcommand\\fR [\\fIoptions\\fR]", ".SH COMMANDS"]
for c, d in cmds:
    out += [".TP", f"\\fBdagmedic\\-{esc(c)}\\fR(1)", line(d)]
out += [".PP", "\\fBdagmedic \\fIcommand\\fB \\-\\-help\\fR describes a command.",
        ".SH SEE ALSO", ", ".join(f"\\fB{esc(n)}\\fR(1)" for n in names[1:])]
with open(os.path.join(OUT, "dagmedic.1.gz"), "wb") as f:
    with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
        g.write(("\n".join(out) + "\n").encode())

for c, summary in cmds:
    if c == "version":
        text = ("Print the version, the git commit and the build type\n"
                "Usage: dagmedic version\n")
    else:
        text = run(c, "--help")
    _, _, sections = parse(text)
    subs = []
    for title, entries in sections:
        if title == "Subcommands":
            subs += [(f"{c} {term}", run(c, term, "--help")) for term, _ in entries]
    page(f"dagmedic-{c}", summary if c != "version" else None, text, subs, ["dagmedic"])
print(" ".join(n + ".1.gz" for n in names))
