#include "conduit/transport/transport.hpp"

#include <fmt/format.h>

#include "conduit/sys/io.hpp"
#include "mechanisms.hpp"
#include "stream_link.hpp"

namespace conduit {
namespace {

using transport::Scheme;

std::unexpected<Error> not_open(std::string_view operation) {
  return fail(Errc::closed,
              fmt::format("connection: {}: not open (closed or moved from)", operation));
}

}  // namespace

Result<void> Connection::send(std::span<const std::byte> payload) { return send(payload, 0); }

Result<void> Connection::send(std::span<const std::byte> payload, std::int64_t type) {
  if (!link_) return not_open("send");
  if (type < 0) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: send: message type {} is negative", link_->url(), type));
  }
  return link_->send(payload, type);
}

Result<void> transport::Link::send_large(LargeBuffer& message, std::int64_t type) {
  return send(message.bytes(), type);
}

Result<void> Connection::send_large(LargeBuffer& message, std::int64_t type) {
  if (!link_) return not_open("send_large");
  if (type < 0) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: send_large: message type {} is negative", link_->url(), type));
  }
  return link_->send_large(message, type);
}

Result<void> Connection::send_large(std::span<const std::byte> payload, std::int64_t type) {
  if (!link_) return not_open("send_large");
  auto large = LargeBuffer::copy_of(payload);
  if (!large) return std::unexpected(large.error());
  return send_large(*large, type);
}

Result<Message> Connection::receive() {
  if (!link_) return not_open("receive");
  return link_->receive(std::nullopt);
}

Result<Message> Connection::receive_for(std::chrono::nanoseconds timeout) {
  if (!link_) return not_open("receive");
  return link_->receive(sys::deadline_after(timeout));
}

void Connection::close() noexcept {
  if (!link_) return;
  link_->close();
  link_.reset();
}

std::size_t Connection::max_message_size() const noexcept {
  return link_ ? link_->max_message_size() : 0;
}

std::string Connection::url() const { return link_ ? link_->url() : std::string(); }

Result<Connection> Listener::accept() {
  if (!acceptor_) return fail(Errc::closed, "listener: accept: not open (moved from)");
  auto link = acceptor_->accept(std::nullopt);
  if (!link) return std::unexpected(link.error());
  return Connection(std::move(*link));
}

Result<Connection> Listener::accept_for(std::chrono::nanoseconds timeout) {
  if (!acceptor_) return fail(Errc::closed, "listener: accept: not open (moved from)");
  auto link = acceptor_->accept(sys::deadline_after(timeout));
  if (!link) return std::unexpected(link.error());
  return Connection(std::move(*link));
}

std::string Listener::url() const { return acceptor_ ? acceptor_->url() : std::string(); }

namespace {

std::unexpected<Error> unframed_unsupported(std::string_view text, std::string_view operation) {
  return fail(
      Errc::invalid_argument,
      fmt::format("{}: {}: Framing::none is offered by unix and tcp only", text, operation));
}

}  // namespace

Result<Listener> listen(std::string_view text) { return listen(text, Framing::framed); }

Result<Connection> connect(std::string_view text) { return connect(text, Framing::framed); }

Result<Listener> listen(std::string_view text, Framing framing) {
  auto url = transport::parse_url(text);
  if (!url) return std::unexpected(url.error());
  const bool is_socket = url->scheme == Scheme::unix_socket || url->scheme == Scheme::tcp;
  if (framing == Framing::none && !is_socket) return unframed_unsupported(text, "listen");
  transport::AcceptorResult acceptor = [&]() -> transport::AcceptorResult {
    switch (url->scheme) {
      case Scheme::unix_socket:
      case Scheme::tcp: return transport::listen_socket(*url, framing);
      case Scheme::fifo: return transport::listen_fifo(*url);
      case Scheme::mq: return transport::listen_mq(*url);
      case Scheme::sysv: return transport::listen_sysv(*url);
      case Scheme::shm: return transport::listen_shm(*url);
      case Scheme::file: return transport::listen_file(*url);
      case Scheme::signal: return transport::listen_signal(*url);
    }
    return fail(Errc::invalid_argument, fmt::format("{}: listen: unknown scheme", text));
  }();
  if (!acceptor) return std::unexpected(acceptor.error());
  return Listener(std::move(*acceptor));
}

Result<Connection> connect(std::string_view text, Framing framing) {
  auto url = transport::parse_url(text);
  if (!url) return std::unexpected(url.error());
  const bool is_socket = url->scheme == Scheme::unix_socket || url->scheme == Scheme::tcp;
  if (framing == Framing::none && !is_socket) return unframed_unsupported(text, "connect");
  transport::LinkResult link = [&]() -> transport::LinkResult {
    switch (url->scheme) {
      case Scheme::unix_socket:
      case Scheme::tcp: return transport::connect_socket(*url, framing);
      case Scheme::fifo: return transport::connect_fifo(*url);
      case Scheme::mq: return transport::connect_mq(*url);
      case Scheme::sysv: return transport::connect_sysv(*url);
      case Scheme::shm: return transport::connect_shm(*url);
      case Scheme::file: return transport::connect_file(*url);
      case Scheme::signal: return transport::connect_signal(*url);
    }
    return fail(Errc::invalid_argument, fmt::format("{}: connect: unknown scheme", text));
  }();
  if (!link) return std::unexpected(link.error());
  return Connection(std::move(*link));
}

Result<std::pair<Connection, Connection>> pipe_pair() {
  auto one = sys::make_pipe();
  if (!one) return fail(one.error(), "pipe_pair: create");
  auto two = sys::make_pipe();
  if (!two) return fail(two.error(), "pipe_pair: create");
  // first reads what second writes (pipe one) and writes what second reads (pipe two).
  auto first =
      transport::StreamLink::make(std::move(one->first), std::move(two->second), false, "pipe");
  if (!first) return std::unexpected(first.error());
  auto second =
      transport::StreamLink::make(std::move(two->first), std::move(one->second), false, "pipe");
  if (!second) return std::unexpected(second.error());
  return std::pair{Connection(std::move(*first)), Connection(std::move(*second))};
}

}  // namespace conduit
