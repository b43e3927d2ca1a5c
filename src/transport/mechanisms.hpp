// The mechanisms behind listen() and connect(): one pair of factories per scheme, each in its
// own file (socket.cpp: unix and tcp; fifo.cpp; posix_mq.cpp; sysv_mq.cpp; shm.cpp; file.cpp;
// signal.cpp). transport.cpp picks one by the URL's scheme.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "conduit/transport/transport.hpp"
#include "conduit/transport/url.hpp"

namespace conduit::transport {

/// A Message holding a copy of `payload` in one allocation (its bytes beside their shared
/// owner), where Message::copy_of makes two (a vector, then the owner of the vector).
[[nodiscard]] inline Message copied_message(std::span<const std::byte> payload, std::int64_t type,
                                            ProcessId sender, std::uint64_t sequence) {
  if (payload.empty())
    return Message(std::span<const std::byte>(), nullptr, type, sender, sequence);
  std::shared_ptr<std::byte[]> bytes = std::make_shared_for_overwrite<std::byte[]>(payload.size());
  std::memcpy(bytes.get(), payload.data(), payload.size());
  const std::span<const std::byte> copy(bytes.get(), payload.size());
  return Message(copy, std::move(bytes), type, sender, sequence);
}

using LinkResult = Result<std::unique_ptr<Link>>;
using AcceptorResult = Result<std::unique_ptr<Acceptor>>;

AcceptorResult listen_socket(const Url& url, Framing framing);
LinkResult connect_socket(const Url& url, Framing framing);
AcceptorResult listen_fifo(const Url& url);
LinkResult connect_fifo(const Url& url);
AcceptorResult listen_mq(const Url& url);
LinkResult connect_mq(const Url& url);
AcceptorResult listen_sysv(const Url& url);
LinkResult connect_sysv(const Url& url);
AcceptorResult listen_shm(const Url& url);
LinkResult connect_shm(const Url& url);
AcceptorResult listen_file(const Url& url);
LinkResult connect_file(const Url& url);
AcceptorResult listen_signal(const Url& url);
LinkResult connect_signal(const Url& url);

}  // namespace conduit::transport
