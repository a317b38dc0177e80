#!/usr/bin/env python3
"""redact_ref.py RULES.yaml IN OUT: the reference redactor in Python `re`, applying the SAME rule
file with the SAME semantics as src/logs (per line; keyword gate; secret_group; min_entropy; allow
lists; '***' kept; overlapping spans merged, first start then first rule names the marker; PEM
blocks with block_end/block_max_lines). It uses the same two-stage algorithm as the C++ engine
(one combined keyword regex over the whole buffer finds candidate lines, then the rule regexes run
on those lines only), so the comparison measures the engines, not a naive loop. Lines over 1 MiB
are not segmented here (the benchmark log has none). Prints wall and CPU seconds and MB/s as JSON."""
import json
import math
import re
import sys
import time
from collections import Counter

import yaml


def entropy(b):
    if not b:
        return 0.0
    n = len(b)
    return -sum(c / n * math.log2(c / n) for c in Counter(b).values())


class Rule:
    def __init__(self, d):
        self.id = d["id"]
        self.type = d.get("type", self.id)
        fl = re.I if "caseless" in (d.get("flags") or []) else 0
        self.re = re.compile(d["pattern"].encode("latin-1"), fl)
        self.group = int(d.get("secret_group", 0))
        self.keywords = [k.lower().encode() for k in (d.get("keywords") or [])]
        self.min_entropy = float(d.get("min_entropy", 0))
        self.allow = [re.compile(x.encode("latin-1")) for x in (d.get("allow") or [])]
        self.block_end = re.compile(d["block_end"].encode("latin-1"), fl) if d.get("block_end") else None
        self.block_max = int(d.get("block_max_lines", 200))
        self.marker = b"[REDACTED:" + self.type.encode() + b"]"
        self.by_pattern = not self.keywords or d.get("prefilter") == "pattern"


class Redactor:
    def __init__(self, text):
        doc = yaml.safe_load(text)
        self.allow = [re.compile(x.encode("latin-1")) for x in (doc.get("allow") or [])]
        self.rules = [Rule(d) for d in doc["rules"]]
        kw = {}
        self.always = []
        for i, r in enumerate(self.rules):
            if r.by_pattern:
                self.always.append(i)
                continue
            for k in r.keywords:
                kw.setdefault(k, []).append(i)
        self.kw_rules = kw
        self.kw_re = re.compile(b"|".join(re.escape(k) for k in sorted(kw, key=len, reverse=True)))
        self.block = None
        self.block_lines = 0

    def allowed(self, r, s):
        if s and s.strip(b"*") == b"":
            return True
        if r.min_entropy > 0 and entropy(s) < r.min_entropy:
            return True
        return any(a.fullmatch(s) for a in self.allow) or any(a.fullmatch(s) for a in r.allow)

    def line(self, line, rule_ids):
        spans = []
        if self.block is not None:
            r = self.rules[self.block]
            m = r.block_end.search(line)
            if m:
                if m.start() > 0:
                    spans.append((0, m.start(), self.block))
                self.block = None
            elif self.block_lines < r.block_max:
                self.block_lines += 1
                return r.marker + (b"\r" if line.endswith(b"\r") else b"")
            else:
                self.block = None
        open_block = None
        low = None
        for i in rule_ids:
            r = self.rules[i]
            if r.keywords:  # keyword gate
                low = line.lower() if low is None else low
                if not any(k in low for k in r.keywords):
                    continue
            if r.block_end is not None:
                p = 0
                while p < len(line):
                    m = r.re.search(line, p)
                    if not m:
                        break
                    be = m.end()
                    e = r.block_end.search(line, be)
                    if e:
                        if e.start() > be:
                            spans.append((be, e.start(), i))
                        p = e.end()
                    else:
                        if be < len(line):
                            spans.append((be, len(line), i))
                        if open_block is None:
                            open_block = i
                        break
                continue
            for m in r.re.finditer(line):
                if m.start() == m.end():
                    continue
                s, e = m.span(r.group)
                if s < 0 or s == e or self.allowed(r, line[s:e]):
                    continue
                spans.append((s, e, i))
        if open_block is not None:
            self.block, self.block_lines = open_block, 0
        if spans and b"[REDACTED:" in line:
            marks = [(m.start(), line.index(b"]", m.start()) + 1) for m in re.finditer(rb"\[REDACTED:", line) if b"]" in line[m.start():]]
            spans = [sp for sp in spans if not any(sp[0] >= a and sp[1] <= b for a, b in marks)]
        if not spans:
            return line
        spans.sort(key=lambda t: (t[0], t[2], -t[1]))
        out, pos, k = [], 0, 0
        while k < len(spans):
            b, e, r = spans[k]
            k += 1
            while k < len(spans) and spans[k][0] < e:
                e = max(e, spans[k][1])
                k += 1
            out.append(line[pos:b])
            out.append(self.rules[r].marker)
            pos = e
        out.append(line[pos:])
        return b"".join(out)

    def redact(self, data):
        # Stage 1: candidate lines and their rules, from one keyword scan of the whole buffer.
        cand = {}
        low = data.lower()
        for m in self.kw_re.finditer(low):
            ls = data.rfind(b"\n", 0, m.start()) + 1
            cand.setdefault(ls, set()).update(self.kw_rules[m.group()])
        if self.always:  # rules without keywords or with `prefilter: pattern`: their regex
            for i in self.always:
                for m in self.rules[i].re.finditer(data):
                    ls = data.rfind(b"\n", 0, m.start()) + 1
                    cand.setdefault(ls, set()).add(i)
        # Stage 2: exact spans on candidate lines; other lines copied (PEM block lines processed).
        out, pos = [], 0
        for ls in sorted(cand):
            if ls < pos:
                continue
            self._plain(data, pos, ls, out)
            le = data.find(b"\n", ls)
            le = len(data) if le < 0 else le
            out.append(self.line(data[ls:le], sorted(cand[ls])))
            if le < len(data):
                out.append(b"\n")
            pos = le + 1
        self._plain(data, pos, len(data), out)
        return b"".join(out)

    def _plain(self, data, a, b, out):
        while a < b:
            if self.block is None:
                out.append(data[a:b])
                return
            le = data.find(b"\n", a, b)
            le = b if le < 0 else le
            out.append(self.line(data[a:le], []))
            if le < b:
                out.append(b"\n")
            a = le + 1


def main():
    rules, src, dst = sys.argv[1:4]
    red = Redactor(open(rules).read())
    data = open(src, "rb").read()
    t0, c0 = time.perf_counter(), time.process_time()
    out = red.redact(data)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    open(dst, "wb").write(out)
    mb = len(data) / 1e6
    print(json.dumps({"bytes": len(data), "wall_s": round(dt, 3), "cpu_s": round(cpu, 3),
                      "wall_mb_s": round(mb / dt, 2), "cpu_mb_s": round(mb / cpu, 2)}))


if __name__ == "__main__":
    main()
