// Errors of the shm component, returned as values from every set-up call.
//
// Set-up (create, attach, register) returns Result<T>: either the value or an Error carrying a
// component error code and a sentence for a human. The hot paths (claim, commit, read) never
// return Result; they return small status enums instead.
#pragma once

#include <cassert>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shmio::shm {

enum class Errc {
  invalid_argument,    // a configuration value is out of its documented range
  not_found,           // no segment of that name
  already_exists,      // create_only found a segment of that name
  permission_denied,   // the segment exists but this user may not open it that way
  foreign_segment,     // the magic number is not shmio's: some other program's segment
  version_mismatch,    // shmio's segment, but a layout version this build does not speak
  size_mismatch,       // the file size or the layout recorded in the header does not add up
  not_ready,           // the creator has not finished initialising it (or died doing so)
  no_free_slot,        // every producer or reader slot is held by a live process
  exclusive_producer,  // a ring made for one producer, and a live one holds it
  system_error,        // an OS call failed for another reason; the message names it
};

std::string_view to_string(Errc e) noexcept;

struct Error {
  Errc code;
  std::string message;
};

// What value() of a Result holding an Error throws (with that Error), and error() of one holding
// a value (code system_error, no sentence of its own): the same in every build, as
// std::expected's value() throws (before 2026-12-04 a Debug build stopped at an assert and a
// Release build threw std::bad_variant_access, which says neither what failed nor why).
class BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(Error e)
      : std::logic_error(
            "shmio::shm::Result::value() of an error: " + std::string(to_string(e.code)) +
            (e.message.empty() ? std::string() : ": " + e.message)),
        error_(std::move(e)) {}
  BadResultAccess()
      : std::logic_error("shmio::shm::Result::error() of a value"),
        error_{Errc::system_error, {}} {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// A value or an Error. Deliberately small: value(), error(), operator bool.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool has_value() const noexcept { return v_.index() == 0; }

  // (Each throws BadResultAccess if the Result holds the other.)
  T& value() & {
    check();
    return *std::get_if<0>(&v_);
  }
  const T& value() const& {
    check();
    return *std::get_if<0>(&v_);
  }
  T&& value() && {
    check();
    return std::move(*std::get_if<0>(&v_));
  }
  const Error& error() const {
    if (has_value()) throw BadResultAccess();
    return *std::get_if<1>(&v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  void check() const {
    if (!has_value()) throw BadResultAccess(*std::get_if<1>(&v_));
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  explicit operator bool() const noexcept { return ok_; }
  bool has_value() const noexcept { return ok_; }
  // (Throws BadResultAccess with the Error if there is one, as value() of the others.)
  void value() const {
    if (!ok_) throw BadResultAccess(error_);
  }
  const Error& error() const {
    if (ok_) throw BadResultAccess();
    return error_;
  }

 private:
  Error error_{Errc::system_error, {}};
  bool ok_ = true;
};

}  // namespace shmio::shm
