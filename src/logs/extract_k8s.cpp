// Kubernetes pod failures behind KubernetesPodOperator's wrapper `AirflowException: Pod … returned
// a failure.`: the container's termination (OOMKilled, exit code 137), ImagePullBackOff /
// ErrImagePull, an eviction ("The node was low on resource: memory"), a pod pending past its
// start timeout with FailedScheduling events. They are stated in the pod dump the operator
// appends to its exception (`remote_pod: {… 'reason': 'OOMKilled' …}`, pprint over many lines,
// partly claimed by the Python pass as the exception's continuation), in the pod events it logs
// (`Pod Event: FailedScheduling - 0/3 nodes are available: 3 Insufficient memory.`) and in the
// provider's own exceptions, so this pass reads consumed lines too.
#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

// Integer value of `key` written as 'key': N, "key": N, key=N or key: N; false when absent.
bool key_int(std::string_view t, std::string_view key, int& v) {
  std::size_t p = t.find(key);
  if (p == std::string_view::npos) return false;
  p += key.size();
  while (p < t.size() && (t[p] == '\'' || t[p] == '"' || t[p] == ':' || t[p] == '=' || t[p] == ' '))
    ++p;
  bool neg = p < t.size() && t[p] == '-';
  if (neg) ++p;
  long n = 0;
  std::size_t d = p;
  while (d < t.size() && t[d] >= '0' && t[d] <= '9' && d - p < 6) n = n * 10 + (t[d++] - '0');
  if (d == p) return false;
  v = static_cast<int>(neg ? -n : n);
  return true;
}

// The quoted text after `after` (`image "x"` / `'image': 'x'`), or "".
std::string quoted_after(std::string_view t, std::string_view after) {
  std::size_t p = t.find(after);
  if (p == std::string_view::npos) return {};
  p += after.size();
  while (p < t.size() && (t[p] == ' ' || t[p] == ':')) ++p;
  if (p >= t.size() || (t[p] != '"' && t[p] != '\'')) return {};
  char q = t[p];
  std::size_t e = t.find(q, p + 1);
  if (e == std::string_view::npos || e == p + 1) return {};
  return cap_utf8(t.substr(p + 1, e - p - 1), 256);
}

// `word` as a pod status reason or event, not as any text (the code line of a traceback frame
// may test for it): `'reason': 'OOMKilled'`, `"reason":"Evicted"`, `reason: Evicted`,
// `Pod Event: Evicted - …`, `Error: ImagePullBackOff`, `unable to start: ImagePullBackOff`.
bool status_word(std::string_view t, std::string_view word) {
  for (std::size_t p = t.find(word); p != std::string_view::npos;
       p = t.find(word, p + word.size())) {
    std::size_t e = p + word.size();
    char after = e < t.size() ? t[e] : ' ';
    std::string_view before = t.substr(0, p);
    if (p > 0 && (t[p - 1] == '\'' || t[p - 1] == '"') && after == t[p - 1]) {
      before.remove_suffix(1);  // a quoted value: of the key "reason"
      for (std::string_view key : {"'reason': ", "\"reason\": ", "\"reason\":", "reason: "}) {
        if (before.ends_with(key)) return true;
      }
      continue;
    }
    if (after != ' ' && after != ',' && after != '.') continue;
    for (std::string_view key : {"reason: ", "reason=", "Reason: ", "Pod Event: ", "Error: ",
                                 "unable to start: ", "Reason:"}) {
      if (before.ends_with(key)) return true;
    }
  }
  return false;
}

struct Seen {
  long oom = -1, oom_code = -1, pull = -1, evicted = -1, pending = -1, sched = -1;
  std::string image, image_spec, evict_msg, sched_msg;
};

ExtractedError make(const Ctx& c, std::size_t i, ErrorKind kind, std::string type,
                    std::string message, int strength) {
  ExtractedError e;
  e.kind = kind;
  e.exception_type = std::move(type);
  e.message = cap_utf8(message);
  e.root_cause_line = cap_utf8(trim(c.lines[i].text));
  e.root_cause_line_number = c.lines[i].number;
  e.strength = strength;
  add_line(e, c.lines[i]);
  return e;
}

}  // namespace

void find_k8s(Ctx& c) {
  const auto& L = c.lines;
  Seen s;
  for (std::size_t i = 0; i < L.size(); ++i) {
    std::string_view t = L[i].text;
    if (status_word(t, "OOMKilled")) s.oom = static_cast<long>(i);
    int code = 0;
    if (t.find("exit_code") != std::string_view::npos && key_int(t, "exit_code", code) &&
        code == 137 && t.find("'exit_code'") != std::string_view::npos) {
      s.oom_code = static_cast<long>(i);  // the pod dump's container state
    }
    if (status_word(t, "ImagePullBackOff") || status_word(t, "ErrImagePull") ||
        status_word(t, "InvalidImageName")) {
      s.pull = static_cast<long>(i);
    }
    if (t.find("image \"") != std::string_view::npos) {
      if (std::string img = quoted_after(t, "image"); !img.empty()) s.image = img;
    }
    if (t.find("'image': '") != std::string_view::npos) {
      if (std::string img = quoted_after(t, "'image'"); !img.empty()) s.image_spec = img;
    }
    if (status_word(t, "Evicted")) s.evicted = static_cast<long>(i);
    if (std::size_t p = t.find("The node was low on resource: "); p != std::string_view::npos) {
      std::string_view m = t.substr(p);
      m = m.substr(0, m.find('.'));
      s.evict_msg.assign(trim(m));
    }
    if (t.find("Pod took longer than") != std::string_view::npos ||
        t.find("Pod took too long to start") != std::string_view::npos ||
        t.find("PodLaunchTimeoutException") != std::string_view::npos) {
      s.pending = static_cast<long>(i);
    }
    if (std::size_t p = t.find("nodes are available"); p != std::string_view::npos) {
      // "0/3 nodes are available: 3 Insufficient memory." — back to the "0/3" before it.
      std::size_t b = p;
      if (b > 0 && t[b - 1] == ' ') --b;
      while (b > 0 && t[b - 1] != ' ' && t[b - 1] != '-' && t[b - 1] != '\'' && t[b - 1] != '"')
        --b;
      std::string_view m = t.substr(b);
      m = m.substr(0, m.find(". "));  // "… preemption: …" repeats it
      while (!m.empty() && (m.back() == '\'' || m.back() == '"' || m.back() == ',' ||
                            m.back() == '}' || m.back() == ' '))
        m.remove_suffix(1);
      s.sched_msg = cap_utf8(m, 256);
      s.sched = static_cast<long>(i);
    }
  }
  auto claim = [&](long i) {
    if (i >= 0) c.consumed[static_cast<std::size_t>(i)] = true;
  };
  if (s.oom >= 0 || s.oom_code >= 0) {
    std::size_t i = static_cast<std::size_t>(s.oom >= 0 ? s.oom : s.oom_code);
    ExtractedError e = make(c, i, ErrorKind::oom_kill, "",
                            "pod container killed: OOMKilled (exit code 137)", kOom);
    e.exit_code = 137;
    if (s.oom >= 0 && s.oom_code >= 0) add_line(e, L[static_cast<std::size_t>(s.oom_code)]);
    claim(s.oom);
    claim(s.oom_code);
    c.out.push_back(std::move(e));
  }
  if (s.pull >= 0) {
    std::string img = !s.image.empty() ? s.image : s.image_spec;
    c.out.push_back(make(
        c, static_cast<std::size_t>(s.pull), ErrorKind::pod_failure, "ImagePullBackOff",
        img.empty() ? "image could not be pulled" : "image \"" + img + "\" could not be pulled",
        kSpecific));
    claim(s.pull);
  }
  if (s.evicted >= 0) {
    c.out.push_back(make(c, static_cast<std::size_t>(s.evicted), ErrorKind::pod_failure, "Evicted",
                         s.evict_msg.empty() ? "pod evicted" : s.evict_msg, kSpecific));
    claim(s.evicted);
  }
  if (s.pending >= 0 && s.sched >= 0 && s.pull < 0) {
    ExtractedError e = make(c, static_cast<std::size_t>(s.sched), ErrorKind::pod_failure,
                            "FailedScheduling", s.sched_msg, kSpecific);
    add_line(e, L[static_cast<std::size_t>(s.pending)]);  // where the timeout is reported
    claim(s.sched);
    c.out.push_back(std::move(e));
  }
}

}  // namespace dm::logs::detail
