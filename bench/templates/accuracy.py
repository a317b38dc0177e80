#!/usr/bin/env python3
"""Grouping accuracy of `dagmedic logs templates` and drain3 on labelled Loghub lines.

Usage: accuracy.py DAGMEDIC [DATA_DIR] [--json OUT]   (DM_ACC_NO_DRAIN3=1: dagmedic only)
DATA_DIR (default tests/logs/loghub2k) holds per set NAME.log (raw lines) and NAME.labels
("LineId EventId" per line, same order). For each set both tools mine (1) the raw lines and (2)
the message part alone, cut from each raw line by the set's Loghub log format (the benchmark's own
definition of "content"; the formats below are logparser's benchmark settings, used here only to
build the message-only input, never by dagmedic).

Grouping accuracy (the log-parsing literature's GA): a line counts as right only when the set of
lines in its predicted group is exactly the set of lines with its true EventId.
drain3 runs with its default configuration (no masking, depth 4, sim_th 0.4), no tuning per set.
Prints a Markdown table, per set and mean.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict

FORMATS = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>",
    "Windows": "<Date> <Time>, <Level>                  <Component>    <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Android": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "OpenStack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
}


def format_regex(fmt):
    # As logparser's generate_logformat_regex: spaces match runs of whitespace.
    parts = re.split(r"(<[^<>]+>)", fmt)
    rx = ""
    for k, p in enumerate(parts):
        if k % 2 == 0:
            rx += re.sub(" +", r"\\s+", p)
        else:
            h = p.strip("<>")
            rx += "(?P<%s>.*?)" % h
    return re.compile("^" + rx + "$")


def message_of(name, line):
    m = format_regex(FORMATS[name]).match(line)
    if not m:
        raise SystemExit(f"{name}: line does not match the Loghub format: {line!r}")
    return m.group("Content")


def grouping_accuracy(pred, truth):
    groups_p, groups_t = defaultdict(set), defaultdict(set)
    for i, (p, t) in enumerate(zip(pred, truth)):
        groups_p[p].add(i)
        groups_t[t].add(i)
    right = sum(1 for i, (p, t) in enumerate(zip(pred, truth)) if groups_p[p] == groups_t[t])
    return right / len(truth)


def run_dagmedic(binary, lines):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        out = subprocess.run([binary, "logs", "templates", "--per-line", "--threads", "1", path],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    ids = [json.loads(l)["id"] for l in out.splitlines() if l.strip()]
    if len(ids) != len(lines):
        raise SystemExit(f"dagmedic gave {len(ids)} ids for {len(lines)} lines")
    return ids


def run_drain3(lines):
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig
    cfg = TemplateMinerConfig()  # defaults; no drain3.ini is read from here
    cfg.profiling_enabled = False
    tm = TemplateMiner(config=cfg)
    return [tm.add_log_message(l)["cluster_id"] for l in lines]


def main():
    args = sys.argv[1:]
    out_json = None
    if "--json" in args:
        k = args.index("--json")
        out_json = args[k + 1]
        del args[k:k + 2]
    binary = args[0]
    data = args[1] if len(args) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "logs", "loghub2k")
    have_drain = not os.environ.get("DM_ACC_NO_DRAIN3")
    if have_drain:
        try:
            import drain3  # noqa: F401
        except ImportError:
            have_drain = False
    rows = []
    for name in sorted(FORMATS):
        logf, labf = os.path.join(data, name + ".log"), os.path.join(data, name + ".labels")
        if not (os.path.exists(logf) and os.path.exists(labf)):
            continue
        raw = open(logf, encoding="utf-8").read().splitlines()
        truth = [l.split()[1] for l in open(labf, encoding="utf-8").read().splitlines()]
        assert len(raw) == len(truth), name
        msg = [message_of(name, l) for l in raw]
        r = {"set": name, "lines": len(raw), "events": len(set(truth)),
             "dm_raw": grouping_accuracy(run_dagmedic(binary, raw), truth),
             "dm_msg": grouping_accuracy(run_dagmedic(binary, msg), truth)}
        if have_drain:
            r["d3_raw"] = grouping_accuracy(run_drain3(raw), truth)
            r["d3_msg"] = grouping_accuracy(run_drain3(msg), truth)
        rows.append(r)
    cols = ["dm_raw", "dm_msg"] + (["d3_raw", "d3_msg"] if have_drain else [])
    head = {"dm_raw": "dagmedic raw", "dm_msg": "dagmedic message", "d3_raw": "drain3 raw",
            "d3_msg": "drain3 message"}
    print("| set | lines | events | " + " | ".join(head[c] for c in cols) + " |")
    print("|---|---:|---:|" + "---:|" * len(cols))
    for r in rows:
        print(f"| {r['set']} | {r['lines']} | {r['events']} | " +
              " | ".join(f"{r[c]:.3f}" for c in cols) + " |")
    mean = {c: sum(r[c] for r in rows) / len(rows) for c in cols}
    print(f"| **mean** | {sum(r['lines'] for r in rows)} | | " +
          " | ".join(f"**{mean[c]:.3f}**" for c in cols) + " |")
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"sets": rows, "mean": mean}, f, indent=1)


if __name__ == "__main__":
    main()
