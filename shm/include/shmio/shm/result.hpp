// Errors of the shm component, returned as values from every set-up call.
//
// Set-up (create, attach, register) returns Result<T>: either the value or an Error carrying a
// component error code and a sentence for a human. The hot paths (claim, commit, read) never
// return Result; they return small status enums instead.
#pragma once

#include <cassert>
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

// A value or an Error. Deliberately small: value(), error(), operator bool.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool has_value() const noexcept { return v_.index() == 0; }

  T& value() & {
    assert(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    assert(!has_value());
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  explicit operator bool() const noexcept { return ok_; }
  bool has_value() const noexcept { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{Errc::system_error, {}};
  bool ok_ = true;
};

}  // namespace shmio::shm
