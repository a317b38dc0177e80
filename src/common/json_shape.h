// One declaration of a JSON result's shape. A struct lists the fields it shows once, in a member
//
//   template <class V> void fields(V& v) const {
//     v.field("dag_id", dag_id, "DAG id");                      // required key
//     v.field("duration_s", duration_s, "Seconds, or null");    // std::optional → nullable
//     v.maybe("exit_code", exit_code, "Only when it exited");   // std::optional → key omitted
//     v.one_of("severity", severity, {"sev1", "sev2", "sev3"}, "Severity");
//     v.flatten(run);                                           // another shape's fields, inline
//   }
//
// and from that one list come both its JSON Schema (shape::schema<T>()) and its JSON value
// (shape::to_json(t)), so what a tool declares in its outputSchema and what it returns cannot
// drift apart. A field's JSON type follows its C++ type:
//   std::string → string, bool → boolean, integers → integer, floating point → number,
//   std::optional<T> → T or null, std::vector<T> → array of T,
//   std::map<std::string, T> → object of T, a struct with fields() → object,
//   nlohmann::json → any JSON value (schema {}), shape::Object → any JSON object.
// A field may be a computed value (v.field("end_date", iso_utc(end_date), …)): the schema pass
// runs fields() on a default-constructed T, so T must be default-constructible and fields() must
// not depend on invariants a default T lacks. Pure functions; thread-safe; nothing throws except
// std::bad_alloc.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace dm::shape {

using json = nlohmann::json;

// A JSON object of no declared shape (e.g. facts kept as they were recorded).
struct Object {
  json value = json::object();
};

class SchemaWriter;
class JsonWriter;

template <class T>
concept Described = requires(const T& t, SchemaWriter& s, JsonWriter& j) {
  t.fields(s);
  t.fields(j);
};

template <class T>
json schema();
template <class T>
json to_json(const T& v);

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class T, class C, class A>
struct is_map<std::map<std::string, T, C, A>> : std::true_type {};

// {"type": X} → {"type": [X, "null"]}; a schema without a type ({}: any value) stays as it is.
json nullable(json s);
}  // namespace detail

// Collects the properties and required keys of one object schema.
class SchemaWriter {
 public:
  template <class T>
  SchemaWriter& field(std::string_view name, const T&, std::string_view description) {
    return add(name, schema<T>(), description, true);
  }
  template <class T>
  SchemaWriter& maybe(std::string_view name, const std::optional<T>&,
                      std::string_view description) {
    return add(name, schema<T>(), description, false);
  }
  SchemaWriter& one_of(std::string_view name, const std::string&,
                       std::initializer_list<std::string_view> values,
                       std::string_view description);
  template <class T>
  SchemaWriter& flatten(const T& sub) {
    sub.fields(*this);
    return *this;
  }
  // {"type":"object","properties":{…},"required":[…]}
  json object() const;

 private:
  SchemaWriter& add(std::string_view name, json property, std::string_view description,
                    bool required);
  json properties_ = json::object();
  json required_ = json::array();
};

// Writes one object's values.
class JsonWriter {
 public:
  explicit JsonWriter(json& out) : out_(out) {}
  template <class T>
  JsonWriter& field(std::string_view name, const T& v, std::string_view) {
    out_[std::string(name)] = to_json(v);
    return *this;
  }
  template <class T>
  JsonWriter& maybe(std::string_view name, const std::optional<T>& v, std::string_view) {
    if (v) out_[std::string(name)] = to_json(*v);
    return *this;
  }
  JsonWriter& one_of(std::string_view name, const std::string& v,
                     std::initializer_list<std::string_view>, std::string_view) {
    out_[std::string(name)] = v;
    return *this;
  }
  template <class T>
  JsonWriter& flatten(const T& sub) {
    sub.fields(*this);
    return *this;
  }

 private:
  json& out_;
};

template <class T>
json schema() {
  if constexpr (std::is_same_v<T, std::string>) {
    return {{"type", "string"}};
  } else if constexpr (std::is_same_v<T, bool>) {
    return {{"type", "boolean"}};
  } else if constexpr (std::is_integral_v<T>) {
    return {{"type", "integer"}};
  } else if constexpr (std::is_floating_point_v<T>) {
    return {{"type", "number"}};
  } else if constexpr (std::is_same_v<T, json>) {
    return json::object();
  } else if constexpr (std::is_same_v<T, Object>) {
    return {{"type", "object"}};
  } else if constexpr (detail::is_optional<T>::value) {
    return detail::nullable(schema<typename T::value_type>());
  } else if constexpr (detail::is_vector<T>::value) {
    return {{"type", "array"}, {"items", schema<typename T::value_type>()}};
  } else if constexpr (detail::is_map<T>::value) {
    return {{"type", "object"}, {"additionalProperties", schema<typename T::mapped_type>()}};
  } else {
    static_assert(Described<T>, "a result field needs a JSON type: see json_shape.h");
    SchemaWriter w;
    T{}.fields(w);
    return w.object();
  }
}

template <class T>
json to_json(const T& v) {
  if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T> ||
                std::is_same_v<T, json>) {
    return json(v);
  } else if constexpr (std::is_same_v<T, Object>) {
    return v.value.is_object() ? v.value : json::object();
  } else if constexpr (detail::is_optional<T>::value) {
    return v ? to_json(*v) : json(nullptr);
  } else if constexpr (detail::is_vector<T>::value) {
    json a = json::array();
    for (const auto& e : v) a.push_back(to_json(e));
    return a;
  } else if constexpr (detail::is_map<T>::value) {
    json o = json::object();
    for (const auto& [k, e] : v) o[k] = to_json(e);
    return o;
  } else {
    static_assert(Described<T>, "a result field needs a JSON type: see json_shape.h");
    json o = json::object();
    JsonWriter w(o);
    v.fields(w);
    return o;
  }
}

}  // namespace dm::shape
