// Errors are values: every fallible call across a layer boundary returns Result<T>.
// No exceptions cross layers; a layer that uses a throwing library catches at its edge.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace dm {

// Broad error classes a caller can branch on; `message` carries the human detail.
enum class Errc {
  invalid_argument,  // caller passed something malformed or out of bounds
  not_found,         // unknown DAG / run / task / resource
  unauthenticated,   // credentials missing, wrong or expired
  permission_denied, // authenticated but not allowed (policy, 403)
  conflict,          // already exists / already done (e.g. 409)
  unavailable,       // peer down, refused, 5xx, throttled after retries
  timeout,           // deadline passed
  cancelled,         // caller cancelled
  too_large,         // size cap exceeded
  protocol,          // peer spoke garbage (bad JSON, unexpected shape)
  failed_precondition,// state does not allow it (not configured, not approved, audit down)
  internal,          // bug or unexpected local failure
};

const char* errc_name(Errc c) noexcept;

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

inline Error make_error(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

// Result<T>: either a T or an Error. Access to the wrong alternative is a bug (asserted).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}           // NOLINT(implicit)
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}       // NOLINT(implicit)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Status: Result without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT(implicit)
  static Status Ok() { return {}; }
  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const { assert(!ok_); return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

}  // namespace dm
