#include "common/json_shape.h"

namespace dm::shape {

namespace detail {
json nullable(json s) {
  if (!s.contains("type")) return s;
  json& t = s["type"];
  if (t.is_string()) {
    if (t != "null") t = json::array({t, "null"});
  } else if (t.is_array()) {
    bool has_null = false;
    for (const auto& e : t) has_null = has_null || e == "null";
    if (!has_null) t.push_back("null");
  }
  return s;
}
}  // namespace detail

SchemaWriter& SchemaWriter::one_of(std::string_view name, const std::string&,
                                   std::initializer_list<std::string_view> values,
                                   std::string_view description) {
  json e = json::array();
  for (auto v : values) e.push_back(std::string(v));
  return add(name, {{"type", "string"}, {"enum", std::move(e)}}, description, true);
}

SchemaWriter& SchemaWriter::add(std::string_view name, json property, std::string_view description,
                                bool required) {
  if (!description.empty()) property["description"] = std::string(description);
  std::string key(name);
  if (required && !properties_.contains(key)) required_.push_back(key);
  properties_[key] = std::move(property);
  return *this;
}

json SchemaWriter::object() const {
  return {{"type", "object"}, {"properties", properties_}, {"required", required_}};
}

}  // namespace dm::shape
