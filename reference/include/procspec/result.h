#pragma once
// Result<T> is a subset of std::expected<T, Error>'s API. libstdc++ 12's <expected> does not
// compile under clang 14, so we carry our own; swapping later is a using-declaration:
//   template <class T> using Result = std::expected<T, Error>; (and Unexpected = std::unexpected)
// Errors are built with fail()/sys_fail(), which return Unexpected<Error>, like std::unexpected.
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "procspec/check.h"
#include "procspec/error.h"

namespace procspec {

struct Error {
  std::error_code code;
  std::string message;  // names the cause: "msgsnd: 9000 bytes exceeds msgmax 8192"
};

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E e) : error_(std::move(e)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }
  const E& error() const& { return error_; }

 private:
  E error_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = Error;

  Result() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> &&
             (!std::is_same_v<std::remove_cvref_t<U>, Result>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, Unexpected<Error>>)
  Result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT implicit, as expected
  Result(Unexpected<Error> e) : v_(std::in_place_index<1>, std::move(e).error()) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { check_value(); return std::get<0>(v_); }
  const T& value() const& { check_value(); return std::get<0>(v_); }
  T&& value() && { check_value(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    PROCSPEC_CHECK(!has_value(), "Result::error() on a value");
    return std::get<1>(v_);
  }
  Error&& error() && {
    PROCSPEC_CHECK(!has_value(), "Result::error() on a value");
    return std::get<1>(std::move(v_));
  }
  template <class U>
  T value_or(U&& alt) const& { return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(alt)); }

 private:
  void check_value() const {
    if (!has_value()) {
      const auto& e = std::get<1>(v_);
      detail::check_failed("has_value()", __FILE__, __LINE__, e.message.c_str());
    }
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  using error_type = Error;

  Result() = default;
  Result(Unexpected<Error> e) : error_(std::move(e).error()) {}  // NOLINT

  bool has_value() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (error_) detail::check_failed("has_value()", __FILE__, __LINE__, error_->message.c_str());
  }
  const Error& error() const& {
    PROCSPEC_CHECK(error_.has_value(), "Status::error() on success");
    return *error_;
  }
  Error&& error() && {
    PROCSPEC_CHECK(error_.has_value(), "Status::error() on success");
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Unexpected<Error> fail(std::error_code code, std::string message) {
  return Unexpected<Error>(Error{code, std::move(message)});
}
inline Unexpected<Error> fail(errc code, std::string message) {
  return fail(make_error_code(code), std::move(message));
}
// errno in the system category; the message is "<what>: <strerror> (<ENAME>)".
Unexpected<Error> sys_fail(int err, std::string_view what);
// Passes an error from one Result type to another.
inline Unexpected<Error> forward_error(Error e) { return Unexpected<Error>(std::move(e)); }

}  // namespace procspec
