// Shell exit codes and OOM kills. Exit -9 / 137 (128+SIGKILL), a bare `Killed`, SIGKILL and the
// kernel/YARN/Kubernetes out-of-memory phrases are OOM kills; other non-zero codes are shell exits.
#include <cstdlib>

#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

// Finds `key` (case-insensitive) followed by an optional '-' and digits; returns true with code.
bool code_after(std::string_view t, std::string_view key, int& code) {
  for (std::size_t i = 0; i + key.size() <= t.size(); ++i) {
    if (!starts_with_ci(t.substr(i), key)) continue;
    std::size_t p = i + key.size();
    bool neg = p < t.size() && t[p] == '-';
    if (neg) ++p;
    long v = 0;
    std::size_t d = p;
    while (d < t.size() && t[d] >= '0' && t[d] <= '9' && d - p < 6) v = v * 10 + (t[d++] - '0');
    if (d == p) continue;
    code = static_cast<int>(neg ? -v : v);
    return true;
  }
  return false;
}

bool oom_phrase(std::string_view t) {
  std::string_view tt = trim(t);
  if (tt == "Killed") return true;
  if (tt.find(" Killed ") != std::string_view::npos && tt.find("line ") != std::string_view::npos) {
    return true;  // bash: "/bin/bash: line 1:  4242 Killed   python job.py"
  }
  for (std::string_view p :
       {"OOMKilled", "Out of memory", "out of memory: killed", "exceeding memory limits",
        "Cannot allocate memory", "SIGKILL", "oom-kill", "OutOfMemoryKilled"}) {
    if (contains_ci(tt, p)) return true;
  }
  return false;
}

// The command output line just before an exit line (same record source), if any.
const NormLine* previous_output(const Ctx& c, std::size_t i) {
  const auto& L = c.lines;
  for (std::size_t back = 1; back <= 4 && back <= i; ++back) {
    const NormLine& p = L[i - back];
    std::string_view t = trim(p.text);
    if (t.empty()) continue;
    if (p.source != L[i].source) return nullptr;
    // BashOperator's own lines before the command's output: nothing was printed.
    if (t == "Output:" || t.starts_with("Running command:") ||
        t.starts_with("Tmp dir root location:")) {
      return nullptr;
    }
    // A stack trace's last line: the trace's exception is a finding of its own, and "... 1 more
    // (exit code 1)" would name nothing.
    if (is_stack_line(t)) return nullptr;
    int dummy = 0;
    if (code_after(t, "return code ", dummy) || code_after(t, "exit status ", dummy))
      return nullptr;
    return &p;
  }
  return nullptr;
}

}  // namespace

void find_exits(Ctx& c) {
  const auto& L = c.lines;
  for (std::size_t i = 0; i < L.size(); ++i) {
    if (c.consumed[i]) continue;
    std::string_view t = L[i].text;
    int code = 0;
    bool weak = false, found = false;
    if (code_after(t, "task exited with return code ", code)) {
      weak = true;  // Airflow 2 local task job: follows every failure
      found = true;
    } else {
      for (std::string_view key :
           {"command exited with return code ", "returned non-zero exit status ", "exit status ",
            "exited with code ", "exited with return code ", "exit code: ", "exit code ",
            "exit_code=", "return code ", "returncode=", "return_code="}) {
        if (code_after(t, key, code)) {
          found = true;
          break;
        }
      }
    }
    bool oom = (found && (code == -9 || code == 137)) || oom_phrase(t);
    if (!oom && (!found || code == 0)) continue;
    ExtractedError e;
    c.consumed[i] = true;
    std::string line(trim(t));
    if (oom) {
      e.kind = ErrorKind::oom_kill;
      e.exit_code = found ? code : -9;
      e.message = "process killed (SIGKILL / out of memory)";
      e.strength = kOom;
    } else {
      e.kind = ErrorKind::shell_exit;
      e.exit_code = code;
      e.message = "exit code " + std::to_string(code);
      e.strength = weak ? kWeakExit : kShell;
      if (!weak) {
        if (const NormLine* p = previous_output(c, i)) {
          std::string_view out = trim(p->text);
          if (out.starts_with("+ ")) out.remove_prefix(2);  // bash -x: the command, no output
          e.message = cap_utf8(std::string(out) + " (exit code " + std::to_string(code) + ")");
          add_line(e, *p);
        }
      }
    }
    add_line(e, L[i]);
    e.root_cause_line = cap_utf8(line);
    e.root_cause_line_number = L[i].number;
    c.out.push_back(std::move(e));
  }
}

}  // namespace dm::logs::detail
