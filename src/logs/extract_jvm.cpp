// JVM (Java/Scala/Spark) stack traces: `Exception in thread "main" x.y.Z: msg`, `\tat …`,
// `Caused by: …`, `... 12 more`, Spark's `Driver stacktrace:` section. The root cause is the last
// `Caused by:`; when that is Spark's "Job aborted due to stage failure" without a deeper cause, it
// is the executor's exception named inside its message.
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

// `... 12 more`: frames elided because the enclosing trace has them.
bool is_elided_frames(std::string_view t) {
  t = trim(t);
  return t.starts_with("... ") && t.ends_with("more");
}

}  // namespace

bool is_stack_line(std::string_view t) {
  t = trim(t);
  if (is_at_frame(t) || is_elided_frames(t)) return true;
  return t.starts_with("File \"") && t.find("\", line ") != std::string_view::npos;
}

namespace {

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

// Spark's "Job aborted due to stage failure: Task 3 in stage 12.0 failed 4 times, most recent
// failure: Lost task 3.3 in stage 12.0 (TID 187) (10.0.3.17 executor 2): java.lang.Foo: msg":
// the executor's exception (type, msg) when it is a typed one, else only the text after the
// executor part ("ExecutorLostFailure (…) Reason: Container killed by YARN …") in `rest`, without
// the per-run task, stage, TID and host. False when msg is not a stage failure.
bool stage_failure_cause(std::string_view msg, std::string& type, std::string& cause,
                         std::string& rest) {
  constexpr std::string_view kAborted = "Job aborted due to stage failure";
  std::size_t a = msg.find(kAborted);
  if (a == std::string_view::npos) return false;
  std::size_t mr = msg.find("most recent failure:", a);
  if (mr == std::string_view::npos) return false;
  std::size_t ex = msg.find("): ", mr);
  if (ex == std::string_view::npos) return false;
  rest.assign(trim(msg.substr(ex + 3)));
  type.clear();
  cause.clear();
  std::string t, m;
  std::string_view r = rest;
  // Only the first line of it (a serialized executor trace may follow on the same line).
  if (std::size_t nl = r.find("\n"); nl != std::string_view::npos) r = r.substr(0, nl);
  if (split_exception(r, t, m) && is_jvm_type(t)) {
    type = std::move(t);
    cause = std::move(m);
  }
  return !rest.empty();
}

bool is_blank(std::string_view t) { return trim(t).empty(); }

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
    for (std::size_t j = i + 1; j < n && j <= i + 8; ++j) {
      std::string_view t = ltrim(L[j].text);
      if (is_at_frame(t) || t.starts_with("Caused by: ") || t.starts_with("Driver stacktrace:")) {
        has_frame = true;
        break;
      }
    }
    // py4j prints the Java error as ": org.apache…" right under a Py4JJavaError: a JVM
    // exception even when the trace that follows is cut.
    if (!has_frame && !thread_prefix && !ltrim(L[i].text).starts_with(": ")) continue;
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
      } else if (is_elided_frames(t)) {
        // elided common frames
      } else if ((t.starts_with("Caused by: ") || t.starts_with(": ")) &&
                 parse_header(t, ct, cm, tp)) {
        // py4j prints the Java exception under a Py4JJavaError as ": org.apache…": its cause.
        links.push_back(Link{ChainLink{ct, cap_utf8(cm), L[k].number}, {}});
      } else if (t.starts_with("Suppressed: ") || t.starts_with("Driver stacktrace:")) {
        // part of the trace, not a cause
      } else if (is_blank(t) && k + 1 < n &&
                 (ltrim(L[k + 1].text).starts_with("Driver stacktrace:") ||
                  ltrim(L[k + 1].text).starts_with("Caused by: "))) {
        // Spark leaves a blank line before its driver stacktrace
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
    Link& r = links.back();
    std::string st_type, st_cause, st_rest;
    if (stage_failure_cause(r.info.message, st_type, st_cause, st_rest)) {
      if (!st_type.empty()) {
        links.push_back(Link{ChainLink{st_type, cap_utf8(st_cause), r.info.line}, {}});
      } else {
        r.info.message = cap_utf8("Job aborted due to stage failure: " + st_rest);
      }
    }
    const Link& root = links.back();
    e.exception_type = cap_utf8(root.info.type, 256);
    e.message = root.info.message;
    e.root_cause_line_number = root.info.line;
    e.root_cause_line = cap_utf8(
        root.info.message.empty() ? root.info.type : root.info.type + ": " + root.info.message);
    for (auto it = links.rbegin(); it != links.rend(); ++it) e.chain.push_back(it->info);
    // Frames: the root's own frames (often elided), else the outermost trace's.
    const std::vector<Frame>* frames = &root.frames;
    if (frames->empty()) frames = &links.front().frames;
    for (const Frame& f : *frames) {
      if (e.frames.size() >= c.opt.max_frames) break;
      if (f.user) e.frames.push_back(f);
    }
    if (!frames->empty() && !frames->front().user && c.opt.max_frames > 0) {
      if (e.frames.size() >= c.opt.max_frames) e.frames.pop_back();
      e.frames.push_back(frames->front());
    }
    e.strength = is_wrapper_exception(root.info.type, root.info.message) ? kWrapper : kSpecific;
    c.out.push_back(std::move(e));
  }
}

}  // namespace dm::logs::detail
