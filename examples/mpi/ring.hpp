// A ring, written once against the direct-naming API: a token goes from node 0 to 1, 2, …,
// back to 0, each node adding its name. Any `Node` with send(peer, text), receive_from(peer)
// and receive() runs it: a conduit::Endpoint on one machine (peers are endpoint names), an
// mpi::World across machines (peers are ranks). ring_local.cpp and ring_mpi.cpp only make
// the nodes.
#pragma once

#include <concepts>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "conduit/core/error.hpp"
#include "conduit/msg/message.hpp"

namespace ring {

/// What the ring needs of a node, and both conduit::Endpoint and conduit::mpi::World give.
template <class Node, class Peer>
concept DirectNaming = requires(Node& node, const Peer& peer, std::string_view text) {
  { node.send(peer, text) } -> std::same_as<conduit::Result<void>>;
  { node.receive_from(peer) } -> std::same_as<conduit::Result<conduit::Message>>;
  { node.receive() } -> std::same_as<conduit::Result<conduit::Message>>;
};

/// Node `index` of `count`: passes the token on, `laps` times round. Node 0 starts each lap and
/// says what came back. `peer(i)` names node i the way Node wants it.
template <class Node, class PeerOf>
  requires DirectNaming<Node, decltype(std::declval<PeerOf>()(0))>
conduit::Result<void> run(Node& node, int index, int count, const std::string& name, PeerOf peer,
                          int laps = 2) {
  const auto next = peer((index + 1) % count);
  const auto previous = peer((index + count - 1) % count);
  for (int lap = 0; lap < laps; ++lap) {
    if (index == 0) {
      if (auto sent = node.send(next, name); !sent) return sent;
      auto back = node.receive_from(previous);  // symmetric: only from the node before us
      if (!back) return std::unexpected(back.error());
      std::printf("lap %d: %s\n", lap, std::string(back->text()).c_str());
      std::fflush(stdout);
    } else {
      auto token = node.receive();  // asymmetric: from anyone (only the node before us sends)
      if (!token) return std::unexpected(token.error());
      if (auto sent = node.send(next, std::string(token->text()) + " -> " + name); !sent)
        return sent;
    }
  }
  return {};
}

}  // namespace ring
