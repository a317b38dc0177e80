// Python tracebacks, chained exceptions included.
#include <algorithm>

#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

constexpr std::string_view kTraceback = "Traceback (most recent call last):";
constexpr std::string_view kDirectCause =
    "The above exception was the direct cause of the following exception:";
constexpr std::string_view kDuringHandling =
    "During handling of the above exception, another exception occurred:";

bool is_traceback_start(std::string_view t) {
  t = trim(t);
  return t.size() >= kTraceback.size() && t.substr(t.size() - kTraceback.size()) == kTraceback;
}
bool is_chain_marker(std::string_view t) {
  t = trim(t);
  return t == kDirectCause || t == kDuringHandling;
}

bool is_user_file(std::string_view f) {
  if (f.empty() || f.front() == '<') return false;
  for (std::string_view p : {"site-packages", "dist-packages", "/lib/python", "/airflow/airflow/",
                             "/airflow/providers/", "/task-sdk/", "/airflow-core/"}) {
    if (f.find(p) != std::string_view::npos) return false;
  }
  return true;
}

// `  File "path", line 12, in func`
bool parse_frame(std::string_view t, Frame& fr) {
  t = ltrim(t);
  if (!t.starts_with("File \"")) return false;
  t.remove_prefix(6);
  std::size_t q = t.find('"');
  if (q == std::string_view::npos) return false;
  fr.file = cap_utf8(t.substr(0, q), 512);
  t.remove_prefix(q + 1);
  if (std::size_t p = t.find("line "); p != std::string_view::npos) {
    std::uint64_t n = 0;
    for (std::size_t i = p + 5; i < t.size() && t[i] >= '0' && t[i] <= '9' && n < (1ULL << 40);
         ++i) {
      n = n * 10 + static_cast<std::uint64_t>(t[i] - '0');
    }
    fr.lineno = n;
  }
  if (std::size_t p = t.find(", in "); p != std::string_view::npos) {
    fr.function = cap_utf8(trim(t.substr(p + 5)), 256);
  }
  fr.user = is_user_file(fr.file);
  return true;
}

bool only_carets(std::string_view t) {
  t = trim(t);
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c == '^' || c == '~'; });
}

struct Link {
  ChainLink info;
  std::vector<Frame> frames;
  bool wrapper = false;
};

}  // namespace

void find_python(Ctx& c) {
  const auto& L = c.lines;
  const std::size_t n = L.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (c.consumed[i] || !is_traceback_start(L[i].text)) continue;
    ExtractedError e;
    e.kind = ErrorKind::python_exception;
    // The failure marker right before ("Task failed with exception") belongs to it.
    if (i > 0 && !c.consumed[i - 1] && L[i - 1].level >= Level::error) {
      c.consumed[i - 1] = true;
      add_line(e, L[i - 1]);
    }
    std::vector<Link> links;
    std::size_t k = i;
    while (k < n) {
      // k is at a "Traceback" line.
      Link link;
      c.consumed[k] = true;
      add_line(e, L[k]);
      ++k;
      while (k < n) {
        std::string_view t = L[k].text;
        Frame fr;
        if (parse_frame(t, fr)) {
          c.consumed[k] = true;
          add_line(e, L[k]);
          ++k;
          // Source line(s) and caret markers under the frame.
          while (k < n && !L[k].text.empty() && (L[k].text[0] == ' ' || L[k].text[0] == '\t') &&
                 !ltrim(L[k].text).starts_with("File \"")) {
            if (fr.code.empty() && !only_carets(L[k].text)) {
              fr.code = cap_utf8(trim(L[k].text), 256);
            }
            c.consumed[k] = true;
            add_line(e, L[k]);
            ++k;
          }
          link.frames.push_back(std::move(fr));
          continue;
        }
        if (ltrim(t).starts_with("[Previous line repeated") ||
            (!t.empty() && (t[0] == ' ' || t[0] == '\t') && !trim(t).empty())) {
          c.consumed[k] = true;
          ++k;
          continue;
        }
        break;
      }
      if (k >= n || trim(L[k].text).empty() || is_traceback_start(L[k].text)) break;
      // Exception line.
      const NormLine& ex = L[k];
      if (!split_exception(ex.text, link.info.type, link.info.message)) {
        link.info.type.clear();
        link.info.message.assign(trim(ex.text));
      }
      link.info.line = ex.number;
      c.consumed[k] = true;
      add_line(e, ex);
      ++k;
      // Continuation lines of a multi-line message (SQL detail, Snowflake's second line, …).
      bool joined = false;
      for (int m = 0; m < 6 && k < n; ++m) {
        const NormLine& nx = L[k];
        std::string_view t = trim(nx.text);
        if (nx.record_start != ex.record_start || nx.source != ex.source || t.empty() ||
            is_traceback_start(t) || is_chain_marker(t) || ltrim(nx.text).starts_with("File \"") ||
            t.starts_with(": ") || t.starts_with("at ")) {  // JVM trace under a Py4JJavaError
          break;
        }
        if (!joined &&
            (announces_continuation(link.info.message) || is_dbt_header(link.info.message))) {
          link.info.message += link.info.message.back() == ':' ? " " : ": ";
          link.info.message += t;
          joined = true;
        }
        c.consumed[k] = true;
        add_line(e, nx);
        ++k;
      }
      link.info.message = cap_utf8(link.info.message);
      link.wrapper = is_wrapper_exception(link.info.type, link.info.message);
      links.push_back(std::move(link));
      // A chain marker continues the chain with the next traceback.
      std::size_t j = k;
      while (j < n && trim(L[j].text).empty()) ++j;
      if (j < n && is_chain_marker(L[j].text)) {
        c.consumed[j] = true;
        add_line(e, L[j]);
        ++j;
        while (j < n && trim(L[j].text).empty()) ++j;
        if (j < n && is_traceback_start(L[j].text)) {
          k = j;
          continue;
        }
      }
      break;
    }
    i = k > i ? k - 1 : i;
    if (links.empty()) continue;  // truncated traceback without an exception line
    // Root cause: the first exception that is not a generic wrapper.
    std::size_t root = 0;
    while (root < links.size() && links[root].wrapper) ++root;
    bool all_wrappers = root == links.size();
    if (all_wrappers) root = 0;
    const Link& r = links[root];
    std::string root_type = r.info.type, root_message = r.info.message;
    unwrap_dbapi(root_type, root_message);
    e.exception_type = cap_utf8(root_type, 256);
    e.message = cap_utf8(root_message);
    e.root_cause_line_number = r.info.line;
    e.root_cause_line =
        cap_utf8(r.info.type.empty() ? r.info.message : r.info.type + ": " + r.info.message);
    for (const Link& l : links) e.chain.push_back(l.info);
    // Frames: user code first (innermost first), then the innermost frame where it blew up.
    const std::vector<Frame>* frames = &r.frames;
    if (frames->empty()) frames = &links.back().frames;
    for (auto it = frames->rbegin(); it != frames->rend() && e.frames.size() < c.opt.max_frames;
         ++it) {
      if (it->user) e.frames.push_back(*it);
    }
    // A root cause raised inside a library (e.g. the DB driver) says nothing about which user
    // code ran it: take the user frames of the exception nearest to it in the chain.
    for (std::size_t q = root + 1; e.frames.empty() && q < links.size(); ++q) {
      for (auto it = links[q].frames.rbegin();
           it != links[q].frames.rend() && e.frames.size() + 1 < c.opt.max_frames; ++it) {
        if (it->user) e.frames.push_back(*it);
      }
    }
    if (!frames->empty() && !frames->back().user) {
      if (e.frames.size() >= c.opt.max_frames && !e.frames.empty()) e.frames.pop_back();
      if (c.opt.max_frames > 0) e.frames.push_back(frames->back());
    }
    e.strength = all_wrappers ? kWrapper : kSpecific;
    c.out.push_back(std::move(e));
  }
}

}  // namespace dm::logs::detail
