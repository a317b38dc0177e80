#include "airflow/log_stream.h"

#include <set>

namespace dm::airflow {

LineFn counting_sink(const LogSink& sink, LogStats& st) {
  st = LogStats{};
  return [&sink, &st](std::string_view text, std::string_view level) {
    ++st.lines;
    st.bytes += text.size() + 1;
    if (!sink(LogLine{text, level})) {
      st.stopped_by_sink = true;
      return false;
    }
    return true;
  };
}

using nlohmann::json;

namespace {

// Calls fn for each line of s (split on '\n', '\r' stripped).
bool each_line(std::string_view s, std::string_view level, const LineFn& fn) {
  std::size_t start = 0;
  while (start <= s.size()) {
    auto nl = s.find('\n', start);
    auto l = s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!fn(l, level)) return false;
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return true;
}

std::string scalar_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// structlog "dict_tracebacks" form: [{exc_type, exc_value, frames:[{filename, lineno, name}]}...]
bool render_exception(const json& detail, std::string_view level, const LineFn& fn) {
  if (detail.is_string()) return each_line(detail.get<std::string>(), level, fn);
  if (!detail.is_array()) return fn(detail.dump(), level);
  bool first = true;
  for (const auto& exc : detail) {
    if (!exc.is_object()) {
      if (!fn(exc.dump(), level)) return false;
      continue;
    }
    if (!first) {
      if (!fn("", level)) return false;
      bool cause = exc.value("is_cause", false);
      if (!fn(cause ? "The above exception was the direct cause of the following exception:"
                    : "During handling of the above exception, another exception occurred:",
              level))
        return false;
      if (!fn("", level)) return false;
    }
    first = false;
    if (!fn("Traceback (most recent call last):", level)) return false;
    if (auto fr = exc.find("frames"); fr != exc.end() && fr->is_array()) {
      for (const auto& f : *fr) {
        if (!f.is_object()) continue;
        std::string line = "  File \"" + scalar_text(f.value("filename", json(""))) + "\", line " +
                           scalar_text(f.value("lineno", json(0))) + ", in " +
                           scalar_text(f.value("name", json("?")));
        if (!fn(line, level)) return false;
      }
    }
    std::string type = exc.contains("exc_type") ? scalar_text(exc["exc_type"]) : "Exception";
    std::string value = exc.contains("exc_value") ? scalar_text(exc["exc_value"]) : "";
    if (!each_line(value.empty() ? type : type + ": " + value, level, fn)) return false;
  }
  return true;
}

const std::set<std::string> kKnownKeys = {"timestamp",    "level",     "logger", "event",
                                          "error_detail", "exception", "chan"};

}  // namespace

bool TextLineSplitter::feed(std::string_view chunk) {
  std::size_t start = 0;
  while (true) {
    auto nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      partial_.append(chunk.substr(start));
      return true;
    }
    std::string_view l;
    if (partial_.empty()) {
      l = chunk.substr(start, nl - start);
    } else {
      partial_.append(chunk.substr(start, nl - start));
      l = partial_;
    }
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    bool go = fn_(l, {});
    partial_.clear();
    if (!go) return false;
    start = nl + 1;
  }
}

bool TextLineSplitter::finish() {
  if (partial_.empty()) return true;
  std::string last = std::move(partial_);
  partial_.clear();
  if (!last.empty() && last.back() == '\r') last.pop_back();
  return fn_(last, {});
}

bool EventLogDecoder::render_event(const json& ev, const LineFn& fn) {
  if (!ev.is_object()) return fn(ev.is_string() ? ev.get<std::string>() : ev.dump(), {});
  std::string level = ev.contains("level") ? scalar_text(ev["level"]) : "";
  std::string head;
  if (auto t = ev.find("timestamp"); t != ev.end() && !t->is_null()) head += scalar_text(*t) + " ";
  if (!level.empty()) head += "[" + level + "] ";
  if (auto l = ev.find("logger"); l != ev.end() && !l->is_null()) head += scalar_text(*l) + ": ";
  std::string event;
  if (auto e = ev.find("event"); e != ev.end() && !e->is_null()) event = scalar_text(*e);
  for (const auto& [k, v] : ev.items()) {
    if (kKnownKeys.count(k)) continue;
    event += " " + k + "=" + scalar_text(v);
  }
  // Multi-line events (e.g. a printed traceback) become several lines, the first with the head.
  bool first = true;
  bool go = each_line(event, level, [&](std::string_view l, std::string_view lv) {
    if (first) {
      first = false;
      return fn(head + std::string(l), lv);
    }
    return fn(l, lv);
  });
  if (!go) return false;
  for (const char* key : {"error_detail", "exception"}) {
    if (auto d = ev.find(key); d != ev.end() && !d->is_null()) {
      if (!render_exception(*d, level, fn)) return false;
    }
  }
  return true;
}

bool EventLogDecoder::line(std::string_view l) {
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
  if (l.empty()) return true;
  json j = json::parse(l, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::string head(l.substr(0, 60));
    for (auto& c : head)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    error_ = make_error(Errc::protocol, "log stream is not JSON (starts with \"" + head + "\")");
    return false;
  }
  if (j.is_object() && j.contains("content") &&
      (j["content"].is_array() || j.contains("continuation_token"))) {
    // JSON page form.
    page_form_ = true;
    if (auto t = j.find("continuation_token"); t != j.end() && t->is_string())
      token_ = t->get<std::string>();
    const auto& c = j["content"];
    if (c.is_string()) {
      ++events_;
      return each_line(c.get<std::string>(), {}, fn_);
    }
    if (!c.is_array()) {
      error_ = make_error(Errc::protocol, "log page has no content array");
      return false;
    }
    for (const auto& ev : c) {
      ++events_;
      if (!render_event(ev, fn_)) return false;
    }
    return true;
  }
  if (j.is_object() && j.contains("content") && j["content"].is_string() && !j.contains("event")) {
    ++events_;
    return each_line(j["content"].get<std::string>(), {}, fn_);
  }
  ++events_;
  return render_event(j, fn_);
}

bool EventLogDecoder::feed(std::string_view chunk) {
  if (error_) return false;
  std::size_t start = 0;
  while (true) {
    auto nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      partial_.append(chunk.substr(start));
      if (partial_.size() > kMaxLine) {
        error_ = make_error(Errc::too_large, "a single log event/page exceeds 64 MiB");
        return false;
      }
      return true;
    }
    bool go;
    if (partial_.empty()) {
      go = line(chunk.substr(start, nl - start));
    } else {
      partial_.append(chunk.substr(start, nl - start));
      std::string l = std::move(partial_);
      partial_.clear();
      go = line(l);
    }
    if (!go) return false;
    start = nl + 1;
  }
}

bool EventLogDecoder::finish() {
  if (error_) return false;
  if (partial_.empty()) return true;
  std::string l = std::move(partial_);
  partial_.clear();
  return line(l);
}

}  // namespace dm::airflow
