#include "logs/category.h"

#include <hs/hs.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "common/yaml_load.h"
#include "logs/precompiled_db.h"
#include "logs/rules_embed.h"

namespace dm::logs {
namespace {

struct Rule {
  std::string at;  // "file:line" of the rule, for error messages
  std::string id, category, action, risk, reason;
  std::vector<ErrorKind> kinds;
  std::vector<std::string> types;
  int message_re = -1, signature_re = -1;  // index into the pattern database
};

struct CatDefault {
  std::string action, risk, reason;
};

constexpr unsigned kPatternFlags = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;

// What the pattern database is compiled from (precompiled_db.h).
std::string plan_of(const std::vector<std::string>& patterns) {
  return hs_plan_text("categories", patterns,
                      std::vector<unsigned>(patterns.size(), kPatternFlags));
}

struct HsDbDeleter {
  void operator()(hs_database_t* d) const { hs_free_database(d); }
};

const std::vector<std::string>& known_categories() {
  static const std::vector<std::string> k = {
      "permissions", "missing_upstream_data", "schema_drift", "resource_exhaustion", "timeout",
      "network",     "dependency_or_import",  "code_bug",     "quota_or_throttling", "unknown"};
  return k;
}

bool parse_kind(const std::string& s, ErrorKind& k) {
  for (ErrorKind c : {ErrorKind::python_exception, ErrorKind::jvm_exception, ErrorKind::sql_error,
                      ErrorKind::shell_exit, ErrorKind::oom_kill, ErrorKind::pod_failure,
                      ErrorKind::airflow_marker, ErrorKind::error_line}) {
    if (s == error_kind_name(c)) {
      k = c;
      return true;
    }
  }
  return false;
}

Error bad(std::string msg) { return make_error(Errc::invalid_argument, std::move(msg)); }

// "name:line" of a node (1-based line), or the name alone for a node without a position.
std::string at(const std::string& name, const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return name;
  return name + ":" + std::to_string(m.line + 1);
}

}  // namespace

struct Categorizer::Impl {
  std::vector<Rule> rules;
  std::map<std::string, CatDefault> cats;
  std::vector<std::string> patterns;
  std::unique_ptr<hs_database_t, HsDbDeleter> db;
  bool precompiled = false;  // db came from precompiled_db.h
};

Result<std::shared_ptr<const Categorizer>> Categorizer::from_yaml(
    const std::vector<std::string>& yaml_texts) {
  std::vector<NamedRules> named;
  for (std::size_t t = 0; t < yaml_texts.size(); ++t)
    named.push_back({"categories file #" + std::to_string(t + 1), yaml_texts[t]});
  return from_named(named);
}

Result<std::shared_ptr<const Categorizer>> Categorizer::from_named(
    const std::vector<NamedRules>& files) {
  auto impl = std::make_shared<Impl>();
  // Later files first: a user file overrides the builtin rules.
  for (std::size_t t = files.size(); t-- > 0;) {
    const std::string& name_of_file = files[t].name;
    std::string where = name_of_file;
    try {
      YAML::Node root = load_one_yaml_document(files[t].text);
      where = at(name_of_file, root.Mark());
      if (!root.IsMap()) return bad(where + ": top level must be a mapping");
      if (YAML::Node cats = root["categories"]) {
        where = at(name_of_file, cats.Mark());
        if (!cats.IsMap()) return bad(where + ": 'categories' must be a mapping");
        for (auto it = cats.begin(); it != cats.end(); ++it) {
          std::string name = it->first.as<std::string>();
          where = at(name_of_file, it->first.Mark());
          if (impl->cats.count(name)) continue;  // a later file already set it
          CatDefault d;
          d.action = it->second["action"].as<std::string>("escalate");
          d.risk = it->second["risk"].as<std::string>("high");
          d.reason = it->second["reason"].as<std::string>("");
          if (d.risk != "low" && d.risk != "medium" && d.risk != "high") {
            return bad(where + ": category " + name + ": risk must be low, medium or high");
          }
          impl->cats[name] = d;
        }
      }
      if (YAML::Node rules = root["rules"]) {
        where = at(name_of_file, rules.Mark());
        if (!rules.IsSequence()) return bad(where + ": 'rules' must be a list");
        for (const YAML::Node& rn : rules) {
          Rule r;
          where = r.at = at(name_of_file, rn.Mark());
          r.id = rn["id"].as<std::string>("");
          if (r.id.empty()) return bad(where + ": a rule has no id");
          std::string rw = where + ": rule " + r.id;
          r.category = rn["category"].as<std::string>("");
          if (r.category.empty()) return bad(rw + ": no category");
          r.action = rn["action"].as<std::string>("");
          r.risk = rn["risk"].as<std::string>("");
          r.reason = rn["reason"].as<std::string>("");
          if (!r.risk.empty() && r.risk != "low" && r.risk != "medium" && r.risk != "high") {
            return bad(rw + ": risk must be low, medium or high");
          }
          if (YAML::Node k = rn["kinds"]) {
            for (const YAML::Node& kn : k) {
              ErrorKind kind;
              if (!parse_kind(kn.as<std::string>(), kind)) {
                return bad(rw + ": unknown kind '" + kn.as<std::string>() + "'");
              }
              r.kinds.push_back(kind);
            }
          }
          if (YAML::Node ty = rn["types"]) {
            for (const YAML::Node& tn : ty) r.types.push_back(tn.as<std::string>());
          }
          if (YAML::Node m = rn["message"]) {
            r.message_re = static_cast<int>(impl->patterns.size());
            impl->patterns.push_back(m.as<std::string>());
          }
          if (YAML::Node s = rn["signature"]) {
            r.signature_re = static_cast<int>(impl->patterns.size());
            impl->patterns.push_back(s.as<std::string>());
          }
          if (r.kinds.empty() && r.types.empty() && r.message_re < 0 && r.signature_re < 0) {
            return bad(rw + ": states no condition");
          }
          impl->rules.push_back(std::move(r));
        }
      }
    } catch (const YAML::Exception& ex) {
      return bad((ex.mark.is_null() ? where : at(name_of_file, ex.mark)) + ": " + ex.msg);
    }
  }
  for (const std::string& c : known_categories()) {
    if (!impl->cats.count(c)) impl->cats[c] = CatDefault{"escalate", "high", ""};
  }
  for (const Rule& r : impl->rules) {
    if (!impl->cats.count(r.category)) {
      return bad(r.at + ": rule " + r.id + ": unknown category '" + r.category + "'");
    }
  }
  if (!impl->patterns.empty()) {
    if (hs_database_t* pre = precompiled_db(plan_of(impl->patterns))) {
      impl->db.reset(pre);
      impl->precompiled = true;
      return std::make_shared<const Categorizer>(std::shared_ptr<const Impl>(std::move(impl)));
    }
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (std::size_t k = 0; k < impl->patterns.size(); ++k) {
      exprs.push_back(impl->patterns[k].c_str());
      flags.push_back(kPatternFlags);
      ids.push_back(static_cast<unsigned>(k));
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) != HS_SUCCESS) {
      std::string msg = err && err->message ? err->message : "compile error";
      std::string rule = "rule ?";
      if (err && err->expression >= 0) {
        for (const Rule& r : impl->rules) {
          if (r.message_re == err->expression || r.signature_re == err->expression)
            rule = r.at + ": rule " + r.id;
        }
      }
      hs_free_compile_error(err);
      return bad(rule + ": bad regex: " + msg);
    }
    impl->db.reset(db);
  }
  return std::make_shared<const Categorizer>(std::shared_ptr<const Impl>(std::move(impl)));
}

Result<std::shared_ptr<const Categorizer>> Categorizer::builtin() {
  auto text = embedded_rules("categories.yaml");
  if (!text) return make_error(Errc::internal, "categories.yaml is not embedded (build bug)");
  auto r = from_named({{"builtin:categories.yaml", std::string(*text)}});
  if (!r.ok()) return make_error(Errc::internal, "embedded categories.yaml: " + r.error().message);
  return r;
}

Result<std::shared_ptr<const Categorizer>> Categorizer::builtin_plus_files(
    const std::vector<std::string>& paths) {
  auto text = embedded_rules("categories.yaml");
  if (!text) return make_error(Errc::internal, "categories.yaml is not embedded (build bug)");
  std::vector<NamedRules> files{{"builtin:categories.yaml", std::string(*text)}};
  for (const std::string& p : paths) {
    std::ifstream f(p, std::ios::binary);
    if (!f) return make_error(Errc::not_found, "cannot read categories file '" + p + "'");
    std::ostringstream ss;
    ss << f.rdbuf();
    files.push_back({p, ss.str()});
  }
  return from_named(files);
}

std::size_t Categorizer::rule_count() const { return impl_->rules.size(); }
bool Categorizer::precompiled() const { return impl_->precompiled; }

Result<std::pair<std::string, std::string>> Categorizer::precompile_builtin() {
  auto c = builtin();
  if (!c) return c.error();
  const Impl& im = *(*c)->impl_;
  if (!im.db) return make_error(Errc::internal, "categories: no pattern to precompile");
  auto bytes = serialize_db(im.db.get());
  if (!bytes) return bytes.error();
  return std::pair<std::string, std::string>{plan_of(im.patterns), std::move(*bytes)};
}

namespace {

int on_match(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  auto* hits = static_cast<std::vector<char>*>(ctx);
  if (id < hits->size()) (*hits)[id] = 1;
  return 0;
}

void scan(const hs_database_t* db, std::string_view text, std::vector<char>& hits) {
  if (!db) return;
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) return;
  hs_scan(db, text.data(), static_cast<unsigned>(std::min<std::size_t>(text.size(), 1u << 20)), 0,
          scratch, on_match, &hits);
  hs_free_scratch(scratch);
}

}  // namespace

Category Categorizer::categorize(const ExtractedError* e, const Signature* sig) const {
  const Impl& im = *impl_;
  auto fill = [&](Category& c, const std::string& name) {
    auto it = im.cats.find(name);
    c.name = name;
    if (it != im.cats.end()) {
      c.action = it->second.action;
      c.risk = it->second.risk;
      c.reason = it->second.reason;
    }
  };
  Category out;
  fill(out, "unknown");
  if (!e) return out;
  std::string text = e->exception_type.empty() ? e->message : e->exception_type + ": " + e->message;
  std::vector<char> msg_hits(im.patterns.size(), 0), sig_hits(im.patterns.size(), 0);
  scan(im.db.get(), text, msg_hits);
  if (sig) scan(im.db.get(), sig->text, sig_hits);
  std::string st = e->exception_type;
  if (std::size_t p = st.find_last_of(".$"); p != std::string::npos) st = st.substr(p + 1);
  for (const Rule& r : im.rules) {
    if (!r.kinds.empty() && std::find(r.kinds.begin(), r.kinds.end(), e->kind) == r.kinds.end()) {
      continue;
    }
    if (!r.types.empty() && std::find(r.types.begin(), r.types.end(), st) == r.types.end())
      continue;
    if (r.message_re >= 0 && !msg_hits[static_cast<std::size_t>(r.message_re)]) continue;
    if (r.signature_re >= 0 && (!sig || !sig_hits[static_cast<std::size_t>(r.signature_re)])) {
      continue;
    }
    fill(out, r.category);
    out.rule_id = r.id;
    if (!r.action.empty()) out.action = r.action;
    if (!r.risk.empty()) out.risk = r.risk;
    if (!r.reason.empty()) out.reason = r.reason;
    return out;
  }
  return out;
}

}  // namespace dm::logs
