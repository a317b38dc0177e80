// JVM (Java/Scala/Spark) stack traces: `Exception in thread "main" x.y.Z: msg`, `\tat …`,
// `Caused by: …`, `... 12 more`. The root cause is the last `Caused by:`.
#include "logs/extract_internal.h"

namespace dm::logs::detail {
namespace {

bool is_jvm_type(std::string_view type) {
  if (type.find('.') == std::string_view::npos) return false;
  std::string st = short_type(type);
  return st.find("Exception") != std::string::npos || st.find("Error") != std::string::npos ||
         st.find("Throwable") != std::string::npos;
}

// Strips the prefixes a JVM exception header can carry; returns false if it is none.
bool parse_header(std::string_view t, std::string& type, std::string& msg, bool& thread_prefix) {
  t = trim(t);
  thread_prefix = false;
  if (t.starts_with("Exception in thread \"")) {
    std::size_t q = t.find('"', 21);
    if (q == std::string_view::npos) return false;
    t = ltrim(t.substr(q + 1));
    thread_prefix = true;
  } else if (t.starts_with(": ")) {
    t.remove_prefix(2);  // py4j prints the Java error as ": org.apache…"
  } else if (t.starts_with("Caused by: ")) {
    t.remove_prefix(11);
  }
  return split_exception(t, type, msg) && is_jvm_type(type);
}

bool is_at_frame(std::string_view t) {
  t = ltrim(t);
  return t.starts_with("at ") && t.find('(') != std::string_view::npos;
}

bool is_user_class(std::string_view q) {
  for (std::string_view p :
       {"java.", "javax.", "jdk.", "sun.", "scala.", "org.apache.spark.", "org.apache.hadoop.",
        "py4j.", "com.amazonaws.", "software.amazon.", "io.netty.", "org.apache.parquet.",
        "com.google.", "org.apache.hive.", "net.snowflake.", "com.databricks."}) {
    if (q.starts_with(p)) return false;
  }
  return true;
}

// `at pkg.Class.method(File.java:123)`
Frame parse_at(std::string_view t) {
  Frame f;
  t = ltrim(t);
  t.remove_prefix(3);
  std::size_t paren = t.find('(');
  std::string_view q = t.substr(0, paren);
  f.file = cap_utf8(q, 512);
  if (std::size_t dot = q.rfind('.'); dot != std::string_view::npos) {
    f.function = cap_utf8(q.substr(dot + 1), 256);
  }
  std::string_view loc = t.substr(paren + 1);
  if (std::size_t colon = loc.find(':'); colon != std::string_view::npos) {
    std::uint64_t n = 0;
    for (std::size_t i = colon + 1;
         i < loc.size() && loc[i] >= '0' && loc[i] <= '9' && n < (1ULL << 40); ++i) {
      n = n * 10 + static_cast<std::uint64_t>(loc[i] - '0');
    }
    f.lineno = n;
  }
  f.user = is_user_class(q);
  return f;
}

}  // namespace

void find_jvm(Ctx& c) {
  const auto& L = c.lines;
  const std::size_t n = L.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (c.consumed[i]) continue;
    std::string type, msg;
    bool thread_prefix = false;
    if (!parse_header(L[i].text, type, msg, thread_prefix)) continue;
    bool has_frame = false;
    for (std::size_t j = i + 1; j < n && j <= i + 4; ++j) {
      if (is_at_frame(L[j].text)) {
        has_frame = true;
        break;
      }
    }
    if (!has_frame && !thread_prefix) continue;
    ExtractedError e;
    e.kind = ErrorKind::jvm_exception;
    if (i > 0 && !c.consumed[i - 1] && L[i - 1].level >= Level::error) {
      c.consumed[i - 1] = true;
      add_line(e, L[i - 1]);
    }
    struct Link {
      ChainLink info;
      std::vector<Frame> frames;
    };
    std::vector<Link> links;
    links.push_back(Link{ChainLink{type, cap_utf8(msg), L[i].number}, {}});
    c.consumed[i] = true;
    add_line(e, L[i]);
    std::size_t k = i + 1;
    for (; k < n; ++k) {
      std::string_view t = ltrim(L[k].text);
      std::string ct, cm;
      bool tp = false;
      if (is_at_frame(t)) {
        links.back().frames.push_back(parse_at(t));
      } else if (t.starts_with("... ") && trim(t).ends_with("more")) {
        // elided common frames
      } else if (t.starts_with("Caused by: ") && parse_header(t, ct, cm, tp)) {
        links.push_back(Link{ChainLink{ct, cap_utf8(cm), L[k].number}, {}});
      } else if (t.starts_with("Suppressed: ")) {
        // part of the trace, not a cause
      } else if (!t.empty() && links.back().frames.empty() && !L[k].record_start && k <= i + 8) {
        // Multi-line message before the first frame: keep the first continuation when the
        // message announces it (ends with ':'), as Spark's analysis errors do.
        if (!links.back().info.message.empty() && links.back().info.message.back() == ':') {
          links.back().info.message =
              cap_utf8(links.back().info.message + " " + std::string(trim(t)));
        }
      } else {
        break;
      }
      c.consumed[k] = true;
      add_line(e, L[k]);
    }
    i = k - 1;
    const Link& r = links.back();
    e.exception_type = cap_utf8(r.info.type, 256);
    e.message = r.info.message;
    e.root_cause_line_number = r.info.line;
    e.root_cause_line =
        cap_utf8(r.info.message.empty() ? r.info.type : r.info.type + ": " + r.info.message);
    for (auto it = links.rbegin(); it != links.rend(); ++it) e.chain.push_back(it->info);
    // Frames: the root's own frames (often elided), else the outermost trace's.
    const std::vector<Frame>* frames = &r.frames;
    if (frames->empty()) frames = &links.front().frames;
    for (const Frame& f : *frames) {
      if (e.frames.size() >= c.opt.max_frames) break;
      if (f.user) e.frames.push_back(f);
    }
    if (!frames->empty() && !frames->front().user && c.opt.max_frames > 0) {
      if (e.frames.size() >= c.opt.max_frames) e.frames.pop_back();
      e.frames.push_back(frames->front());
    }
    e.strength = is_wrapper_exception(r.info.type, r.info.message) ? kWrapper : kSpecific;
    c.out.push_back(std::move(e));
  }
}

}  // namespace dm::logs::detail
