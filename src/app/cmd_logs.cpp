// `dagmedic logs redact|extract|templates FILE|-`: the log pipeline on a file or stdin, with the
// built-in rules extended by the config file's `rules:` files and --rules/--category-rules.
// Input is read in large blocks and streamed: memory stays flat for any file size.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/commands.h"
#include "common/cpu_count.h"
#include "config/config.h"
#include "logs/category.h"
#include "logs/line_blocks.h"
#include "logs/pipeline.h"
#include "logs/redact.h"
#include "logs/rule_sets.h"
#include "logs/template.h"

namespace dm::app {
namespace {

constexpr std::size_t kBlock = 4u << 20;
// Block of `logs templates` on several threads: one thread's unit of work between turns.
constexpr std::size_t kFileBlock = 256u << 10;

// Opens FILE or "-" (stdin). Prints the error and returns null on failure.
std::FILE* open_input(const std::string& path, const char* cmd) {
  if (path == "-") return stdin;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "dagmedic logs %s: cannot open '%s': %s\n", cmd, path.c_str(),
                 std::strerror(errno));
  }
  return f;
}

// Reads the whole input in blocks, calling fn(view) per block. False (message printed) on a read
// error such as a directory given as FILE.
template <class Fn>
bool read_blocks(std::FILE* f, const std::string& path, const char* cmd, Fn&& fn) {
  std::vector<char> buf(kBlock);
  for (;;) {
    std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n > 0) fn(std::string_view(buf.data(), n));
    if (n < buf.size()) {
      if (std::ferror(f)) {
        std::fprintf(stderr, "dagmedic logs %s: cannot read '%s': %s\n", cmd, path.c_str(),
                     std::strerror(errno));
        return false;
      }
      return true;
    }
  }
}

struct Input {
  std::FILE* f = nullptr;
  bool owned = false;
  ~Input() {
    if (owned && f) std::fclose(f);
  }
};

// Buffered stdout; remembers a write failure (closed pipe, full disk).
class Out {
 public:
  ~Out() { flush(); }
  void put(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= (1u << 20)) flush();
  }
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size()) {
      failed_ = true;
    }
    buf_.clear();
  }
  bool ok() {
    flush();
    return !failed_ && std::fflush(stdout) == 0;
  }
  std::string& raw() { return buf_; }

 private:
  std::string buf_;
  bool failed_ = false;
};

// JSON string escaping that always yields valid UTF-8 (invalid bytes become U+FFFD).
void json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else {
      std::size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      bool valid = len > 0 && i + len <= s.size();
      for (std::size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      }
      if (valid) {
        out.append(s.substr(i, len));
        i += len;
      } else {
        out.append("\xEF\xBF\xBD");
        ++i;
      }
    }
  }
  out.push_back('"');
}

int run_redact(const std::string& path, const std::shared_ptr<const logs::Redactor>& red) {
  Input in{open_input(path, "redact"), path != "-"};
  if (!in.f) return 1;
  logs::RedactStream rs(red);
  Out out;
  auto sink = [&](std::string_view s) { out.put(s); };
  bool ok = read_blocks(in.f, path, "redact", [&](std::string_view b) { rs.feed(b, sink); });
  rs.finish(sink);
  if (!out.ok()) {
    std::fprintf(stderr, "dagmedic logs redact: cannot write output\n");
    return 1;
  }
  return ok ? 0 : 1;
}

int run_extract(const std::string& path, const logs::RuleSets& rules, std::size_t tail_lines,
                bool pretty) {
  logs::DiagnoseOptions opt;
  opt.redactor = rules.redactor;
  opt.categorizer = rules.categorizer;
  if (tail_lines > 0) opt.tail.max_lines = tail_lines;
  auto ds = logs::DiagnoseStream::create(opt);
  if (!ds) {
    std::fprintf(stderr, "dagmedic logs extract: %s\n", ds.error().message.c_str());
    return 1;
  }
  Input in{open_input(path, "extract"), path != "-"};
  if (!in.f) return 1;
  bool ok = read_blocks(in.f, path, "extract", [&](std::string_view b) { ds.value()->feed(b); });
  if (!ok) return 1;
  logs::Diagnosis d = ds.value()->finish();
  std::string s =
      logs::to_json(d).dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace);
  s.push_back('\n');
  Out out;
  out.put(s);
  if (!out.ok()) {
    std::fprintf(stderr, "dagmedic logs extract: cannot write output\n");
    return 1;
  }
  return 0;
}

// The CPUs this process may use (affinity, cgroup quota), at most 8: more threads than CPUs only
// queue behind each other's turns.
std::size_t default_threads() { return std::min<std::size_t>(usable_cpus(), 8); }

struct TemplateArgs {
  bool per_line = false, json = false, no_redact = false, no_premask = false, no_memo = false;
  std::size_t max_clusters = 5000, depth = 4, top = 0, threads = 0;
  double similarity = 0.4;
};

int run_templates(const std::string& path, const TemplateArgs& a,
                  const std::shared_ptr<const logs::Redactor>& rules_redactor) {
  std::shared_ptr<const logs::Redactor> red = a.no_redact ? nullptr : rules_redactor;
  Input in{open_input(path, "templates"), path != "-"};
  if (!in.f) return 1;
  logs::TemplateOptions to;
  to.max_clusters = a.max_clusters;
  to.depth = a.depth;
  to.similarity = a.similarity;
  to.premask = !a.no_premask;
  if (a.no_memo) to.shape_memo_bytes = 0;
  logs::TemplateMiner miner(to);
  Out out;
  std::uint64_t n = 0;
  auto on_id = [&](std::uint64_t id) {
    ++n;
    if (a.per_line) {
      std::string& o = out.raw();
      o.append("{\"line\":");
      o.append(std::to_string(n));
      o.append(",\"id\":");
      o.append(std::to_string(id));
      o.append(",\"template\":");
      json_string(o, miner.template_of(id));
      o.append("}\n");
      if (o.size() >= (1u << 20)) out.flush();
    }
  };
  const std::size_t threads = a.threads > 0 ? a.threads : default_threads();
  bool ok = true;
  if (threads > 1) {
    // A regular file without redaction is read by every thread in parallel (pread); otherwise
    // the reading (and redaction, which is sequential) is one thread's turn at a time. So is a
    // file of one block or less: nothing to share, and /proc and /sys files state a size (0,
    // 4096) that is not their content's.
    struct stat st {};
    std::unique_ptr<logs::LineBlockSource> src;
    if (!red && ::fstat(fileno(in.f), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<std::uint64_t>(st.st_size) > kFileBlock) {
      src = logs::file_line_blocks(fileno(in.f), static_cast<std::uint64_t>(st.st_size), kFileBlock,
                                   to.max_line_bytes);
    } else {
      src = logs::stream_line_blocks(in.f, red, kFileBlock, to.max_line_bytes);
    }
    if (!logs::mine_in_order(*src, threads, to, miner, on_id)) {
      std::fprintf(stderr, "dagmedic logs templates: cannot read '%s': %s\n", path.c_str(),
                   src->error().c_str());
      ok = false;
    }
  } else {
    // One thread: lines are masked in runs of kRun (MaskedBatch::add needs the line only during
    // the call, so no copy), then mined in order: same result as miner.add() line by line, and
    // the memo lookups of a run do not wait on each other behind the miner's work.
    constexpr std::size_t kRun = 1024;
    logs::LineSplitter split(to.max_line_bytes);
    logs::MaskedBatch run(to);
    auto mine_run = [&] {
      for (std::size_t k = 0; k < run.size(); ++k) on_id(miner.add_prepared(run, k));
      run.clear();
    };
    auto on_line = [&](std::string_view line) {
      run.add(line);
      if (run.size() >= kRun) mine_run();
    };
    std::unique_ptr<logs::RedactStream> rs;
    if (red) rs = std::make_unique<logs::RedactStream>(red);
    auto to_lines = [&](std::string_view s) { split.feed(s, on_line); };
    ok = read_blocks(in.f, path, "templates", [&](std::string_view b) {
      if (rs) {
        rs->feed(b, to_lines);
      } else {
        to_lines(b);
      }
    });
    if (rs) rs->finish(to_lines);
    split.finish(on_line);
    mine_run();
  }
  if (!ok) return 1;
  if (!a.per_line) {
    auto cl = miner.clusters();
    std::size_t limit = a.top > 0 ? std::min(a.top, cl.size()) : cl.size();
    std::string& o = out.raw();
    if (a.json) {
      o.append("{\"lines\":" + std::to_string(miner.lines()) +
               ",\"clusters\":" + std::to_string(cl.size()) +
               ",\"evicted\":" + std::to_string(miner.evicted()) + ",\"templates\":[");
      for (std::size_t k = 0; k < limit; ++k) {
        if (k) o.push_back(',');
        o.append("{\"id\":" + std::to_string(cl[k].id) +
                 ",\"count\":" + std::to_string(cl[k].count) + ",\"template\":");
        json_string(o, cl[k].text);
        o.push_back('}');
        if (o.size() >= (1u << 20)) out.flush();
      }
      o.append("]}\n");
    } else {
      char head[128];
      std::snprintf(head, sizeof head, "# %llu lines, %zu templates\n",
                    static_cast<unsigned long long>(miner.lines()), cl.size());
      o.append(head);
      for (std::size_t k = 0; k < limit; ++k) {
        char num[64];
        std::snprintf(num, sizeof num, "%10llu  #%-6llu ",
                      static_cast<unsigned long long>(cl[k].count),
                      static_cast<unsigned long long>(cl[k].id));
        o.append(num);
        o.append(cl[k].text);
        o.push_back('\n');
        if (o.size() >= (1u << 20)) out.flush();
      }
    }
  }
  if (!out.ok()) {
    std::fprintf(stderr, "dagmedic logs templates: cannot write output\n");
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_logs(int argc, char** argv) {
  CLI::App cli{"Log pipeline: redact, extract the error, mine templates", "dagmedic logs"};
  cli.require_subcommand(1);
  std::string path, config_path;
  std::vector<std::string> red_rules, cat_rules;
  std::size_t tail_lines = 0;
  bool pretty = false;
  TemplateArgs ta;

  auto* red = cli.add_subcommand("redact",
                                 "Stream FILE (or - for stdin) to stdout, secrets "
                                 "replaced by [REDACTED:type]");
  red->add_option("FILE", path, "log file, or - for stdin")->required();
  red->add_option("--rules", red_rules, "extra redaction rules file (repeatable)");
  const char* config_help =
      "config file whose `rules:` files extend the built-in rules (default: $DAGMEDIC_CONFIG or "
      "~/.config/dagmedic/config.yaml; none is fine)";
  red->add_option("--config", config_path, config_help);

  auto* ext = cli.add_subcommand("extract",
                                 "Print the diagnosis of FILE as JSON: error, "
                                 "signature, category, action (redacted)");
  ext->add_option("FILE", path, "log file, or - for stdin")->required();
  ext->add_option("--rules", red_rules, "extra redaction rules file (repeatable)");
  ext->add_option("--category-rules", cat_rules, "extra category rules file (repeatable)");
  ext->add_option("--config", config_path, config_help);
  ext->add_option("--tail-lines", tail_lines, "lines of the end of the log to analyse (400)")
      ->check(CLI::Range(1, 5000));
  ext->add_flag("--pretty", pretty, "indent the JSON");

  auto* tpl = cli.add_subcommand("templates",
                                 "Mine log templates of FILE (Drain with "
                                 "pre-masking), most frequent first");
  tpl->add_option("FILE", path, "log file, or - for stdin")->required();
  tpl->add_flag("--per-line", ta.per_line, "one JSON line per input line: {line, id, template}");
  tpl->add_flag("--json", ta.json, "print the templates as one JSON document");
  tpl->add_option("--top", ta.top, "print only the N most frequent templates");
  tpl->add_option("--max-clusters", ta.max_clusters, "cluster cap (least recently used evicted)")
      ->check(CLI::Range(1, 1000000));
  tpl->add_option("--depth", ta.depth, "Drain tree depth (4)")->check(CLI::Range(3, 16));
  tpl->add_option("--sim", ta.similarity, "Drain similarity threshold (0.4)")
      ->check(CLI::Range(0.0, 1.0));
  tpl->add_flag("--no-premask", ta.no_premask,
                "plain Drain: no variable masking before clustering");
  tpl->add_flag("--no-redact", ta.no_redact,
                "skip redaction (trusted input only; templates may then show secrets)");
  tpl->add_option("--rules", red_rules, "extra redaction rules file (repeatable)");
  tpl->add_option("--config", config_path, config_help);
  tpl->add_option(
         "--threads", ta.threads,
         "threads that read, mask and mine lines (default: the CPUs this process may use, at "
         "most 8); output is "
         "the same for any value")
      ->check(CLI::Range(1, 64));
  tpl->add_flag("--no-shape-memo", ta.no_memo,
                "mask every line (no skeleton -> masked line memo); same output, slower: for "
                "checks and benchmarks");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  // Every sub-command loads the user's rule files first (the config's, then --rules and
  // --category-rules): a bad file stops it whatever it would have used. A built-in set it does
  // not use is not compiled (the categorizer alone is ~0.15 s of a start): redact and templates
  // use no categorizer, templates --no-redact no redactor.
  auto cfg = config::load_config(config_path);
  if (!cfg) {
    std::fprintf(stderr, "dagmedic logs: %s\n", cfg.error().message.c_str());
    return 1;
  }
  red_rules.insert(red_rules.begin(), cfg->rules.redaction.begin(), cfg->rules.redaction.end());
  cat_rules.insert(cat_rules.begin(), cfg->rules.categories.begin(), cfg->rules.categories.end());
  const bool need_redactor = !(tpl->parsed() && ta.no_redact);
  const bool need_categorizer = ext->parsed();
  logs::RuleSets rules;
  if (need_redactor || !red_rules.empty()) {
    auto r = logs::load_redactor(red_rules);
    if (!r) {
      std::fprintf(stderr, "dagmedic logs: %s\n", r.error().message.c_str());
      return 1;
    }
    rules.redactor = std::move(*r);
  }
  if (need_categorizer || !cat_rules.empty()) {
    auto c = logs::load_categorizer(cat_rules);
    if (!c) {
      std::fprintf(stderr, "dagmedic logs: %s\n", c.error().message.c_str());
      return 1;
    }
    rules.categorizer = std::move(*c);
  }
  try {
    if (red->parsed()) return run_redact(path, rules.redactor);
    if (ext->parsed()) return run_extract(path, rules, tail_lines, pretty);
    return run_templates(path, ta, rules.redactor);
  } catch (const std::exception& e) {  // bad_alloc and the like: report, never crash
    std::fprintf(stderr, "dagmedic logs: %s\n", e.what());
    return 1;
  }
}

}  // namespace dm::app
