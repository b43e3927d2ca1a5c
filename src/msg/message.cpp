#include "conduit/msg/message.hpp"

#include <cstring>
#include <type_traits>

namespace conduit {

namespace {

/// memcpy of 1 to 64 bytes as two overlapping fixed-size copies each (a few moves, no call).
[[gnu::always_inline]] inline void copy_small(std::byte* to, const std::byte* from,
                                              std::size_t n) noexcept {
  const auto both_ends = [&](auto width) {
    std::memcpy(to, from, width);
    std::memcpy(to + n - width, from + n - width, width);
  };
  if (n >= 32) {
    both_ends(std::integral_constant<std::size_t, 32>{});
  } else if (n >= 16) {
    both_ends(std::integral_constant<std::size_t, 16>{});
  } else if (n >= 8) {
    both_ends(std::integral_constant<std::size_t, 8>{});
  } else if (n >= 4) {
    both_ends(std::integral_constant<std::size_t, 4>{});
  } else {
    to[0] = from[0];
    to[n / 2] = from[n / 2];
    to[n - 1] = from[n - 1];
  }
}

}  // namespace

Message::Message(std::vector<std::byte> payload, std::int64_t type, ProcessId sender,
                 std::uint64_t sequence)
    : type_(type), sender_(sender), sequence_(sequence) {
  own(std::make_shared<const std::vector<std::byte>>(std::move(payload)));
}

void Message::own(std::shared_ptr<const std::vector<std::byte>> storage) noexcept {
  payload_ = std::span(*storage);
  owner_ = std::move(storage);
}

Message::Message(std::span<const std::byte> payload, std::shared_ptr<const void> owner,
                 std::int64_t type, ProcessId sender, std::uint64_t sequence)
    : owner_(std::move(owner)),
      payload_(payload),
      type_(type),
      sender_(sender),
      sequence_(sequence) {}

Message Message::of_private_mapping(std::span<std::byte> payload, std::shared_ptr<const void> owner,
                                    std::int64_t type, ProcessId sender, std::uint64_t sequence) {
  Message message(std::span<const std::byte>(payload), std::move(owner), type, sender, sequence);
  message.is_private_mapping_ = true;
  return message;
}

const std::string& Message::empty_name() noexcept {
  static const std::string empty;
  return empty;
}

Message Message::copy_of(std::span<const std::byte> payload, std::int64_t type, ProcessId sender,
                         std::uint64_t sequence) {
  Message message;
  message.assign_copy(payload, type, sender, sequence);
  return message;
}

void Message::assign_copy(std::span<const std::byte> payload, std::int64_t type, ProcessId sender,
                          std::uint64_t sequence) {
  static_assert(kInlineBytes <= UINT8_MAX);
  // Into a Message made in place (no name, no owner yet), as every receive does: nothing to
  // let go, no call, nothing saved (the rest is apart).
  if (sender_name_ == nullptr && owner_ == nullptr && !payload.empty() &&
      payload.size() <= kInlineBytes) [[likely]] {
    type_ = type;
    sender_ = sender;
    sequence_ = sequence;
    is_private_mapping_ = false;
    payload_ = {};
    copy_small(inline_bytes_, payload.data(), payload.size());
    inline_size_ = static_cast<std::uint8_t>(payload.size());
    return;
  }
  assign_copy_apart(payload, type, sender, sequence);
}

void Message::assign_copy_apart(std::span<const std::byte> payload, std::int64_t type,
                                ProcessId sender, std::uint64_t sequence) {
  type_ = type;
  sender_ = sender;
  sequence_ = sequence;
  is_private_mapping_ = false;
  if (sender_name_ != nullptr) sender_name_.reset();
  if (!payload.empty() && payload.size() <= kInlineBytes) {
    if (owner_ != nullptr) owner_.reset();
    payload_ = {};
    copy_small(inline_bytes_, payload.data(), payload.size());
    inline_size_ = static_cast<std::uint8_t>(payload.size());
    return;
  }
  own(std::make_shared<const std::vector<std::byte>>(payload.begin(), payload.end()));
  inline_size_ = 0;
}

}  // namespace conduit
