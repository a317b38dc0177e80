#include "mcp/schema_dialect.h"

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace dm::mcp {
namespace {

using json = nlohmann::json;

// Keywords holding one subschema, a map of them, or a list of them (draft-7 names, after the
// rewrite of this node).
constexpr std::string_view kOne[] = {
    "additionalProperties", "propertyNames", "contains", "not", "if", "then", "else",
    "additionalItems"};
// prefixItems and dependentSchemas are gone after a node's rewrite; find_keyword sees them before.
constexpr std::string_view kMap[] = {"properties", "patternProperties", "$defs", "definitions",
                                     "dependentSchemas"};
constexpr std::string_view kList[] = {"allOf", "anyOf", "oneOf", "prefixItems"};
constexpr std::string_view kRefused[] = {
    "unevaluatedProperties", "unevaluatedItems", "minContains",   "maxContains",
    "$dynamicRef",           "$dynamicAnchor",   "$recursiveRef", "$recursiveAnchor"};

std::string pointer_part(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::string where(const std::string& at) { return at.empty() ? "the schema's root" : "#" + at; }

Error refused(const std::string& what, const std::string& at) {
  return make_error(Errc::invalid_argument, what + " at " + where(at) +
                                                " is not supported (docs/mcp.md lists the "
                                                "JSON Schema 2020-12 keywords enforced)");
}

template <class F>
Status each_child(json& s, const std::string& at, F&& f) {
  for (auto k : kOne)
    if (auto it = s.find(std::string(k)); it != s.end())
      if (auto st = f(*it, at + "/" + std::string(k)); !st) return st;
  if (auto it = s.find("items"); it != s.end()) {
    if (it->is_array()) {
      for (std::size_t i = 0; i < it->size(); ++i)
        if (auto st = f((*it)[i], at + "/items/" + std::to_string(i)); !st) return st;
    } else if (auto st = f(*it, at + "/items"); !st) {
      return st;
    }
  }
  for (auto k : kMap)
    if (auto it = s.find(std::string(k)); it != s.end() && it->is_object())
      for (auto e = it->begin(); e != it->end(); ++e)
        if (auto st = f(e.value(), at + "/" + std::string(k) + "/" + pointer_part(e.key())); !st)
          return st;
  for (auto k : kList)
    if (auto it = s.find(std::string(k)); it != s.end() && it->is_array())
      for (std::size_t i = 0; i < it->size(); ++i)
        if (auto st = f((*it)[i], at + "/" + std::string(k) + "/" + std::to_string(i)); !st)
          return st;
  if (auto it = s.find("dependencies"); it != s.end() && it->is_object())
    for (auto e = it->begin(); e != it->end(); ++e)
      if (!e.value().is_array())  // an array lists required properties, not a schema
        if (auto st = f(e.value(), at + "/dependencies/" + pointer_part(e.key())); !st) return st;
  return Status::Ok();
}

// 2020-12 → draft 7 for the node at `at` and everything below it.
Status rewrite(json& s, const std::string& at) {
  if (s.is_boolean()) return Status::Ok();
  if (!s.is_object())
    return make_error(Errc::invalid_argument,
                      "the subschema at " + where(at) + " must be an object or a boolean");
  for (auto k : kRefused)
    if (s.contains(std::string(k))) return refused(std::string(k), at);
  // 2020-12: `format` annotates by default; valijson would assert a few formats with std::regex.
  s.erase("format");
  if (auto it = s.find("items"); it != s.end() && it->is_array())
    return refused("an `items` array (draft-7 tuple syntax; 2020-12 says prefixItems)", at);
  if (auto p = s.find("prefixItems"); p != s.end()) {
    if (!p->is_array()) return refused("a `prefixItems` that is not an array", at);
    json tuple = std::move(*p);
    s.erase("prefixItems");
    if (auto rest = s.find("items"); rest != s.end()) {
      s["additionalItems"] = std::move(*rest);
      s.erase("items");
    }
    s["items"] = std::move(tuple);
  }
  const bool has_req = s.contains("dependentRequired"), has_sch = s.contains("dependentSchemas");
  if (has_req || has_sch) {
    json deps = s.value("dependencies", json::object());
    if (!deps.is_object()) return refused("a `dependencies` that is not an object", at);
    json req = s.value("dependentRequired", json::object());
    json sch = s.value("dependentSchemas", json::object());
    if (!req.is_object() || !sch.is_object())
      return refused("a `dependentRequired`/`dependentSchemas` that is not an object", at);
    for (auto e = sch.begin(); e != sch.end(); ++e) deps[e.key()] = e.value();
    for (auto e = req.begin(); e != req.end(); ++e) {
      if (!e.value().is_array())
        return refused("a `dependentRequired` entry that is not a list", at);
      if (deps.contains(e.key()) && !deps[e.key()].is_array())
        deps[e.key()] = {{"allOf", json::array({deps[e.key()], {{"required", e.value()}}})}};
      else
        deps[e.key()] = e.value();
    }
    s.erase("dependentRequired");
    s.erase("dependentSchemas");
    s["dependencies"] = std::move(deps);
  }
  if (auto r = s.find("$ref"); r != s.end() && s.size() > 1) {
    // Draft 7 ignores the keywords beside a $ref; 2020-12 applies them. Only the $ref moves (into
    // allOf), so no JSON pointer into this node changes.
    json ref = {{"$ref", std::move(*r)}};
    s.erase("$ref");
    json& all = s["allOf"];
    if (all.is_null()) all = json::array();
    if (!all.is_array()) return refused("an `allOf` that is not an array", at);
    all.push_back(std::move(ref));
  }
  return each_child(s, at, [](json& c, const std::string& p) { return rewrite(c, p); });
}

Status collect_anchors(json& s, const std::string& at, std::map<std::string, std::string>& out) {
  if (!s.is_object()) return Status::Ok();
  if (auto a = s.find("$anchor"); a != s.end() && a->is_string()) {
    if (!out.emplace(a->get<std::string>(), at).second)
      return refused("a second $anchor \"" + a->get<std::string>() + "\"", at);
  }
  return each_child(s, at,
                    [&out](json& c, const std::string& p) { return collect_anchors(c, p, out); });
}

Status resolve_anchor_refs(json& s, const std::string& at,
                           const std::map<std::string, std::string>& anchors) {
  if (!s.is_object()) return Status::Ok();
  if (auto r = s.find("$ref"); r != s.end() && r->is_string()) {
    const std::string ref = r->get<std::string>();
    if (ref.size() > 1 && ref[0] == '#' && ref[1] != '/') {
      auto a = anchors.find(ref.substr(1));
      if (a == anchors.end()) return refused("a $ref to the undefined anchor \"" + ref + "\"", at);
      *r = "#" + a->second;
    }
  }
  return each_child(s, at, [&anchors](json& c, const std::string& p) {
    return resolve_anchor_refs(c, p, anchors);
  });
}

bool older_draft(const json& schema) {
  auto it = schema.find("$schema");
  if (it == schema.end() || !it->is_string()) return false;
  const std::string& d = it->get_ref<const std::string&>();
  for (const char* v : {"draft-07", "draft-06", "draft-04"})
    if (d.find(v) != std::string::npos) return true;
  return false;
}

}  // namespace

Result<nlohmann::json> to_draft7(const nlohmann::json& schema) {
  if (!schema.is_object())
    return make_error(Errc::invalid_argument, "schema must be a JSON object");
  if (older_draft(schema)) return schema;
  json out = schema;
  if (auto st = rewrite(out, ""); !st) return st.error();
  std::map<std::string, std::string> anchors;
  if (auto st = collect_anchors(out, "", anchors); !st) return st.error();
  if (auto st = resolve_anchor_refs(out, "", anchors); !st) return st.error();
  return out;
}

std::optional<std::string> find_keyword(const nlohmann::json& schema, std::string_view keyword) {
  json copy = schema;  // each_child walks mutable nodes; the walk changes nothing
  std::optional<std::string> found;
  std::function<Status(json&, const std::string&)> visit = [&](json& s,
                                                               const std::string& at) -> Status {
    if (found || !s.is_object()) return Status::Ok();
    if (s.contains(std::string(keyword))) {
      found = at;
      return Status::Ok();
    }
    return each_child(s, at, visit);
  };
  (void)visit(copy, "");
  return found;
}

}  // namespace dm::mcp
