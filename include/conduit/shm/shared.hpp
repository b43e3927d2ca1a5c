// Shared<T>: one named object of type T in a segment of its own, the same object in every
// process that opens the name.
//
// T is constructed once, by create(), before the name appears: an open() never sees a
// half-built T. T's destructor never runs (the object outlives any one process), so T must be
// trivially destructible, and it must not hold pointers: each process maps the segment at its
// own address. sync/ primitives and std::atomic members are the intended contents.
// open() checks sizeof(T) and alignof(T) against what the creator recorded; it cannot tell two
// different types of the same size apart.
#pragma once

#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "conduit/core/error.hpp"
#include "conduit/shm/segment.hpp"

namespace conduit {

struct SharedOptions {
  mode_t mode = 0600;
  Lifetime lifetime = Lifetime::system;
};

template <class T>
class Shared {
  static_assert(std::is_trivially_destructible_v<T>,
                "Shared<T>: T's destructor would never run; T must be trivially destructible");
  static_assert(!std::is_pointer_v<T> && !std::is_reference_v<T>,
                "Shared<T>: a pointer means nothing in another process");
  static_assert(alignof(T) <= shm::kPayloadOffset);

 public:
  /// Creates object `name`, constructing T from `args` before anyone can open it.
  /// Errors: as Segment::create (invalid_argument, already_exists, limit_reached, ...).
  template <class... A>
  [[nodiscard]] static Result<Shared> create(std::string_view name, A&&... args) {
    return create_with(name, SharedOptions{}, std::forward<A>(args)...);
  }
  /// As create, with a mode and a lifetime.
  template <class... A>
  [[nodiscard]] static Result<Shared> create_with(std::string_view name, SharedOptions options,
                                                  A&&... args) {
    shm::SegmentSpec spec;
    spec.kind = shm::SegmentKind::object;
    spec.payload_size = sizeof(T);
    spec.lifetime = options.lifetime;
    spec.mode = options.mode;
    spec.type_size = sizeof(T);
    spec.type_align = alignof(T);
    auto segment =
        shm::Segment::create(name, spec, [&](std::span<std::byte> payload) -> Result<void> {
          ::new (static_cast<void*>(payload.data())) T(std::forward<A>(args)...);
          return {};
        });
    if (!segment) return std::unexpected(segment.error());
    return Shared(std::move(*segment));
  }

  /// Opens object `name`. Errors: not_found, corrupted, permission_denied, invalid_argument
  /// (another kind of object, or a T of another size or alignment).
  [[nodiscard]] static Result<Shared> open(std::string_view name) {
    auto segment = shm::Segment::open(name, shm::SegmentKind::object);
    if (!segment) return std::unexpected(segment.error());
    const auto& header = segment->header();
    if (header.type_size != sizeof(T) || header.type_align != alignof(T))
      return fail(Errc::invalid_argument,
                  "shared object '" + std::string(name) + "': open: holds a type of size " +
                      std::to_string(header.type_size) + " and alignment " +
                      std::to_string(header.type_align) + ", not " + std::to_string(sizeof(T)) +
                      " and " + std::to_string(alignof(T)));
    return Shared(std::move(*segment));
  }

  /// Removes object `name` (open handles keep working).
  [[nodiscard]] static Result<void> remove(std::string_view name) {
    return shm::Segment::remove(name, shm::SegmentKind::object);
  }

  T& operator*() const noexcept { return *get(); }
  T* operator->() const noexcept { return get(); }
  [[nodiscard]] T* get() const noexcept {
    return std::launder(reinterpret_cast<T*>(segment_.payload().data()));
  }
  [[nodiscard]] const shm::Segment& segment() const noexcept { return segment_; }

 private:
  explicit Shared(shm::Segment segment) : segment_(std::move(segment)) {}

  shm::Segment segment_;
};

}  // namespace conduit
