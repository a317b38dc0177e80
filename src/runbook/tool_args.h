// One declaration of a tool's arguments: a struct `In` and an `Args<In>` that binds each of its
// members to an argument name, a rule and a description. From that one declaration come the
// tool's input JSON Schema (types, bounds, patterns, defaults, descriptions), the parsing of the
// `arguments` object into `In`, and its validation — so the schema and the code that reads the
// arguments cannot drift apart (in the spirit of the Go SDK's mcp.AddTool[In, Out]).
//
//   struct LogIn : WithEnvironment { std::string dag_id; long long tail_lines = 0; };
//   Args<LogIn> a;
//   a.text("dag_id", &LogIn::dag_id, rules::dag_id(), "DAG id", Need::required)
//    .integer("tail_lines", &LogIn::tail_lines, {1, 1000}, "Last lines", 200);
//   a.schema();          //
//   {"type":"object","properties":{…,"environment":…},"required":["dag_id"],…} a.parse(arguments);
//   // Result<LogIn>: a bad or unknown argument is invalid_argument naming it
//
// A struct deriving from WithEnvironment gets the optional `environment` argument (a configured
// environment's name) without declaring it. Args objects are immutable once built and then safe
// to use from any thread; parse() never throws.
#pragma once

#include <concepts>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.h"

namespace dm::runbook {

using json = nlohmann::json;

// Base of every tool's argument struct that takes `environment`.
struct WithEnvironment {
  std::string environment;  // "" = the config's default environment
};

enum class Need { optional, required };

// A string rule: its JSON Schema keywords and the same rule as code. `pattern` is an anchored
// ECMAScript regular expression, used verbatim in the schema and compiled once for the check.
class Text {
 public:
  Text(std::size_t min_len, std::size_t max_len, std::string pattern = {},
       std::vector<std::string> one_of = {});
  // Keywords for a property schema (type, minLength, maxLength, pattern, enum).
  json schema() const;
  // "" when `v` obeys the rule; otherwise why not (for an error message).
  std::string check(std::string_view v) const;

 private:
  std::size_t min_len_, max_len_;
  std::string pattern_;
  std::shared_ptr<const std::regex> re_;
  std::vector<std::string> one_of_;
};

// Integer bounds, inclusive.
struct Int {
  long long lo = std::numeric_limits<long long>::min();
  long long hi = std::numeric_limits<long long>::max();
};

// The id rules of Airflow and dagmedic, one definition each.
namespace rules {
Text environment();  // a configured environment's name: 1..128 characters, no space or quote
Text dag_id();       // [A-Za-z0-9_.-], 1..250 characters (Airflow's rule)
Text task_id();      // the same rule as dag_id
// Run ids: 1..250 printable characters, no control characters, no '/' or '\\' path tricks.
Text run_id();
Text signature();    // an error signature: 6..64 lowercase hex digits
Text approval_id();  // 16..64 lowercase hex digits
Text prose(std::size_t min_len, std::size_t max_len);  // free text (reasons, log excerpts)
Text one_of(std::vector<std::string> values);          // an enum
}  // namespace rules

namespace args_detail {
// Checks `v` against a JSON type; sets `why` when it is not. Never throws.
bool is_integer(const json& v);
Error bad(std::string_view name, std::string_view why);
}  // namespace args_detail

template <class In>
class Args {
 public:
  Args() {
    if constexpr (std::is_base_of_v<WithEnvironment, In>)
      text("environment", static_cast<std::string In::*>(&WithEnvironment::environment),
           rules::environment(),
           "Configured environment name (default: the config's default environment).");
  }

  // A string. Optional and absent → the member keeps its initial value.
  Args& text(std::string name, std::string In::*m, Text rule, std::string description,
             Need need = Need::optional) {
    json p = rule.schema();
    p["description"] = std::move(description);
    return add(std::move(name), std::move(p), need,
               [m, rule = std::move(rule)](std::string_view key, const json& v, In& out) -> Status {
                 if (!v.is_string()) return args_detail::bad(key, "must be a string");
                 const auto& s = v.get_ref<const std::string&>();
                 if (auto why = rule.check(s); !why.empty()) return args_detail::bad(key, why);
                 out.*m = s;
                 return Status::Ok();
               });
  }

  // An integer within `bounds`. With `dflt`, the schema advertises it and an absent argument
  // takes it; without, an absent optional argument leaves the member as it is.
  template <class I>
  requires std::integral<I> || std::same_as<I, std::optional<long long>> ||
      std::same_as<I, std::optional<int>>
          Args& integer(std::string name, I In::*m, Int bounds, std::string description,
                        std::optional<long long> dflt = std::nullopt, Need need = Need::optional) {
    json p = {{"type", "integer"}, {"minimum", bounds.lo}, {"maximum", bounds.hi}};
    p["description"] = std::move(description);
    if (dflt) p["default"] = *dflt;
    return add(
        std::move(name), std::move(p), need,
        [m, bounds, dflt](std::string_view key, const json& v, In& out) -> Status {
          if (!args_detail::is_integer(v)) return args_detail::bad(key, "must be an integer");
          long long n = 0;
          if (v.is_number_unsigned()) {
            if (v.get<unsigned long long>() > static_cast<unsigned long long>(bounds.hi))
              return args_detail::bad(key, "must be at most " + std::to_string(bounds.hi));
            n = static_cast<long long>(v.get<unsigned long long>());
          } else {
            n = v.is_number_float() ? static_cast<long long>(v.get<double>()) : v.get<long long>();
          }
          if (n < bounds.lo || n > bounds.hi)
            return args_detail::bad(key, "must be between " + std::to_string(bounds.lo) + " and " +
                                             std::to_string(bounds.hi));
          out.*m = static_cast<value_type_t<I>>(n);
          return Status::Ok();
        },
        dflt ? std::function<void(In&)>(
                   [m, d = *dflt](In& out) { out.*m = static_cast<value_type_t<I>>(d); })
             : nullptr);
  }

  Args& boolean(std::string name, std::optional<bool> In::*m, std::string description) {
    return add(std::move(name), {{"type", "boolean"}, {"description", std::move(description)}},
               Need::optional, [m](std::string_view key, const json& v, In& out) -> Status {
                 if (!v.is_boolean()) return args_detail::bad(key, "must be true or false");
                 out.*m = v.get<bool>();
                 return Status::Ok();
               });
  }

  // Any JSON object (e.g. a run's conf, checked later against the DAG's own schema).
  Args& object(std::string name, std::optional<json> In::*m, std::string description) {
    return add(std::move(name), {{"type", "object"}, {"description", std::move(description)}},
               Need::optional, [m](std::string_view key, const json& v, In& out) -> Status {
                 if (!v.is_object()) return args_detail::bad(key, "must be an object");
                 out.*m = v;
                 return Status::Ok();
               });
  }

  // A list of strings, each obeying `item`, at most `max_items`.
  Args& list(std::string name, std::optional<std::vector<std::string>> In::*m, Text item,
             std::size_t max_items, std::string description) {
    json p = {{"type", "array"}, {"items", item.schema()}, {"maxItems", max_items}};
    p["description"] = std::move(description);
    return add(std::move(name), std::move(p), Need::optional,
               [m, item = std::move(item), max_items](std::string_view key, const json& v,
                                                      In& out) -> Status {
                 if (!v.is_array()) return args_detail::bad(key, "must be an array of strings");
                 if (v.size() > max_items)
                   return args_detail::bad(
                       key, "must have at most " + std::to_string(max_items) + " items");
                 std::vector<std::string> got;
                 for (const auto& e : v) {
                   if (!e.is_string()) return args_detail::bad(key, "must be an array of strings");
                   if (auto why = item.check(e.get_ref<const std::string&>()); !why.empty())
                     return args_detail::bad(key, "item " + std::to_string(got.size()) + " " + why);
                   got.push_back(e.get<std::string>());
                 }
                 out.*m = std::move(got);
                 return Status::Ok();
               });
  }

  // A nested object declared by its own Args (no `environment` unless Sub takes one).
  template <class Sub>
  Args& nested(std::string name, std::optional<Sub> In::*m, Args<Sub> sub, std::string description,
               Need need = Need::optional) {
    json p = sub.schema();
    p["description"] = std::move(description);
    return add(std::move(name), std::move(p), need,
               [m, sub = std::move(sub)](std::string_view key, const json& v, In& out) -> Status {
                 auto parsed = sub.parse(v);
                 if (!parsed) return args_detail::bad(key, parsed.error().message);
                 out.*m = std::move(*parsed);
                 return Status::Ok();
               });
  }

  // {"type":"object","properties":…,"required":[…],"additionalProperties":false}
  json schema() const {
    return {{"type", "object"},
            {"properties", properties_},
            {"required", required_},
            {"additionalProperties", false}};
  }

  // `arguments` (null = {}) → In. Errors (invalid_argument): not an object, an unknown argument,
  // a missing required one, or a value that breaks its rule; the message names the argument.
  Result<In> parse(const json& arguments) const {
    In out{};
    for (const auto& f : fields_)
      if (f.apply_default) f.apply_default(out);
    if (arguments.is_null()) {
      if (!required_.empty())
        return args_detail::bad(required_[0].get<std::string>(), "is required");
      return out;
    }
    if (!arguments.is_object()) return args_detail::bad("arguments", "must be an object");
    for (const auto& [key, value] : arguments.items()) {
      const Field* f = find(key);
      if (f == nullptr) return args_detail::bad(key, "is not an argument of this tool");
      if (auto st = f->read(key, value, out); !st) return st.error();
    }
    for (const auto& f : fields_)
      if (f.need == Need::required && !arguments.contains(f.name))
        return args_detail::bad(f.name, "is required");
    return out;
  }

 private:
  template <class T>
  struct value_type {
    using type = T;
  };
  template <class T>
  struct value_type<std::optional<T>> {
    using type = T;
  };
  template <class T>
  using value_type_t = typename value_type<T>::type;

  using Reader = std::function<Status(std::string_view key, const json& v, In& out)>;
  struct Field {
    std::string name;
    Need need;
    Reader read;
    std::function<void(In&)> apply_default;
  };

  Args& add(std::string name, json property, Need need, Reader read,
            std::function<void(In&)> apply_default = nullptr) {
    properties_[name] = std::move(property);
    if (need == Need::required) required_.push_back(name);
    fields_.push_back({std::move(name), need, std::move(read), std::move(apply_default)});
    return *this;
  }
  const Field* find(std::string_view key) const {
    for (const auto& f : fields_)
      if (f.name == key) return &f;
    return nullptr;
  }

  json properties_ = json::object();
  json required_ = json::array();
  std::vector<Field> fields_;
};

}  // namespace dm::runbook
