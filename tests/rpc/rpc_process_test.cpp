// msgpack-rpc between real processes: a server in a forked child, clients in the test process
// (or in more children), over the stream transports and the message transports alike.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "conduit/rpc/client.hpp"
#include "conduit/rpc/server.hpp"
#include "conduit/transport/transport.hpp"
#include "process.hpp"

namespace conduit::test {
namespace {

using namespace std::chrono_literals;

/// Where wait_at_gate handlers wait until open_gate is called (in the server's process).
struct Gate {
  std::mutex mutex;
  std::condition_variable opened;
  bool is_open = false;
};

Gate& gate() {
  static Gate the_gate;
  return the_gate;
}

/// The server every test talks to, bound to a few methods.
void bind_methods(rpc::Server& server) {
  server.bind("add", [](int a, int b) { return a + b; });
  server.bind("concat", [](const std::string& a, const std::string& b) { return a + b; });
  server.bind("fail", [](const std::string& why) -> int { throw std::runtime_error(why); });
  server.bind("sleep_then_echo", [](int milliseconds, int value) {
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
    return value;
  });
  static std::atomic<int> recorded{0};
  server.bind("record", [](int value) { recorded.store(value); });
  server.bind("recorded", [] { return recorded.load(); });
  server.bind("pid", [] { return static_cast<int>(::getpid()); });
  // Blocks until open_gate (bounded, so that a failing test cannot hang the server): `value`,
  // or -1 if the gate never opened.
  server.bind("wait_at_gate", [](int value) {
    std::unique_lock lock(gate().mutex);
    const bool is_open = gate().opened.wait_for(lock, 60s, [] { return gate().is_open; });
    return is_open ? value : -1;
  });
  server.bind("open_gate", [] {
    const std::lock_guard lock(gate().mutex);
    gate().is_open = true;
    gate().opened.notify_all();
  });
}

/// A server in a child process, serving `url` until the test ends; url() says where it listens.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& url) {
    auto pair = pipe_pair();
    EXPECT_TRUE(pair.has_value());
    Connection mine = std::move(pair->first);
    Connection theirs = std::move(pair->second);
    child_.emplace([&]() -> int {
      mine.close();
      rpc::Server server;
      bind_methods(server);
      auto started = server.start(url);
      if (!started) {
        std::fprintf(stderr, "start: %s\n", started.error().message().c_str());
        return 1;
      }
      CHILD_CHECK(theirs.send(server.url()));
      // Serve until the test process closes its end (or dies).
      (void)theirs.receive();
      server.stop();
      return 0;
    });
    theirs.close();
    auto told = mine.receive_for(20s);
    EXPECT_TRUE(told.has_value()) << (told ? "" : told.error().message());
    if (told) url_ = std::string(told->text());
    control_ = std::move(mine);
  }

  ~ServerProcess() {
    control_.close();
    if (child_) {
      const Exit exit = child_->wait(30s);
      EXPECT_TRUE(exit.ok()) << exit.describe();
    }
  }

  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  std::optional<Child> child_;
  Connection control_;
  std::string url_;
};

class RpcOverTransport : public ProcessTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string url() const {
    const std::string scheme = GetParam();
    if (scheme == "unix") return "unix://" + namespace_path() + "/rpc.sock";
    if (scheme == "tcp") return "tcp://127.0.0.1:0";
    if (scheme == "shm") return "shm://rpc-" + std::to_string(::getpid());
    if (scheme == "mq") return "mq://conduit-rpc-" + std::to_string(::getpid());
    return "fifo://" + namespace_path() + "/rpc.fifo";
  }
};

TEST_P(RpcOverTransport, Call_ReturnsTheHandlersResult) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  Result<int> sum = client->call<int>("add", 1, 2);
  ASSERT_TRUE(sum) << sum.error().message();
  EXPECT_EQ(*sum, 3);
  auto joined = client->call<std::string>("concat", std::string("con"), std::string("duit"));
  ASSERT_TRUE(joined) << joined.error().message();
  EXPECT_EQ(*joined, "conduit");
}

TEST_P(RpcOverTransport, Notification_RunsWithoutAnAnswer) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE(client->notify("record", 42));
  // Notifications run in order on the connection, before the call read behind them.
  auto seen = client->call<int>("recorded");
  ASSERT_TRUE(seen) << seen.error().message();
  EXPECT_EQ(*seen, 42);
}

TEST_P(RpcOverTransport, HandlerThrows_ErrorResponseWithItsText) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  auto failed = client->call<int>("fail", std::string("disk on fire"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Errc::io);
  EXPECT_NE(failed.error().message().find("disk on fire"), std::string::npos)
      << failed.error().message();
  // The connection goes on.
  EXPECT_EQ(client->call<int>("add", 2, 2).value_or(0), 4);
}

TEST_P(RpcOverTransport, WrongArguments_ErrorResponseNamingTheProblem) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  auto too_many = client->call<int>("add", 1, 2, 3);
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message().find("expects 2 argument(s), got 3"), std::string::npos)
      << too_many.error().message();
  auto wrong_type = client->call<int>("add", std::string("one"), 2);
  ASSERT_FALSE(wrong_type);
  EXPECT_NE(wrong_type.error().message().find("argument 1 has the wrong type"), std::string::npos)
      << wrong_type.error().message();
  EXPECT_EQ(client->call<int>("add", 20, 22).value_or(0), 42);
}

TEST_P(RpcOverTransport, UnknownMethod_ErrorResponse) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  auto missing = client->call<int>("no_such_method", 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::io);
  EXPECT_NE(missing.error().message().find("unknown method 'no_such_method'"), std::string::npos)
      << missing.error().message();
}

TEST_P(RpcOverTransport, ResultOfAnotherType_InvalidArgument) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  auto wrong = client->call<std::string>("add", 1, 2);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::invalid_argument);
}

TEST_P(RpcOverTransport, ConcurrentClientsInOtherProcesses_EachGetsItsOwnAnswers) {
  ServerProcess server(url());
  constexpr int kClients = 4;
  constexpr int kCalls = 50;
  std::vector<Child> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c]() -> int {
      auto client = rpc::Client::connect(server.url());
      CHILD_CHECK(client.has_value());
      for (int i = 0; i < kCalls; ++i) {
        auto sum = client->call<int>("add", c * 1000, i);
        CHILD_CHECK(sum.has_value() && *sum == c * 1000 + i);
      }
      return 0;
    });
  }
  for (auto& child : clients) {
    const Exit exit = child.wait(60s);
    EXPECT_TRUE(exit.ok()) << exit.describe();
  }
}

TEST_P(RpcOverTransport, ThreadsSharingOneClient_AnswersMatchedByMsgid) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  constexpr int kThreads = 4;
  constexpr int kCalls = 50;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        auto sum = client->call<int>("add", t * 1000, i);
        if (!sum || *sum != t * 1000 + i) wrong.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_P(RpcOverTransport, AsyncCalls_AnsweredOutOfOrder) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  // The first call is held until the server has answered the other two: its handler sleeps
  // while they return at once; each future still gets its own value.
  auto slow = client->async_call<int>("sleep_then_echo", 500, 1);
  auto quick = client->async_call<int>("sleep_then_echo", 0, 2);
  auto quicker = client->async_call<int>("add", 1, 2);
  auto second = quick.get();
  auto third = quicker.get();
  ASSERT_TRUE(second) << second.error().message();
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_EQ(*second, 2);
  EXPECT_EQ(*third, 3);
  auto first = slow.get();
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, 1);
}

TEST_P(RpcOverTransport, CallFor_TimesOutAgainstASlowHandler) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  auto late = client->call_for<int>(50ms, "sleep_then_echo", 2000, 7);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), Errc::timed_out);
  // The connection stays usable; the late answer is dropped.
  EXPECT_EQ(client->call_for<int>(20s, "add", 3, 4).value_or(0), 7);
}

TEST_P(RpcOverTransport, ServerGone_CallsFailWithClosed) {
  std::string address;
  std::optional<rpc::Client> client;
  {
    ServerProcess server(url());
    auto connected = rpc::Client::connect(server.url());
    ASSERT_TRUE(connected) << connected.error().message();
    client.emplace(std::move(*connected));
    ASSERT_EQ(client->call<int>("add", 1, 1).value_or(0), 2);
  }
  auto after = client->call_for<int>(20s, "add", 1, 1);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), Errc::closed) << after.error().message();
}

TEST_P(RpcOverTransport, BlockedHandler_OtherClientsAndLaterCallsOnItsConnectionGoOn) {
  ServerProcess server(url());
  auto blocked_client = rpc::Client::connect(server.url());
  ASSERT_TRUE(blocked_client) << blocked_client.error().message();
  auto other_client = rpc::Client::connect(server.url());
  ASSERT_TRUE(other_client) << other_client.error().message();
  auto blocked = blocked_client->async_call<int>("wait_at_gate", 7);
  // While that handler blocks, another client is served...
  for (int i = 0; i < 20; ++i) {
    auto sum = other_client->call_for<int>(20s, "add", i, i);
    ASSERT_TRUE(sum) << sum.error().message();
    EXPECT_EQ(*sum, 2 * i);
  }
  // ...and so is a call behind it on its own connection.
  auto behind = blocked_client->call_for<int>(20s, "add", 1, 2);
  ASSERT_TRUE(behind) << behind.error().message();
  EXPECT_EQ(*behind, 3);
  auto opened = other_client->call_for<void>(20s, "open_gate");
  ASSERT_TRUE(opened) << opened.error().message();
  ASSERT_EQ(blocked.wait_for(20s), std::future_status::ready);
  auto released = blocked.get();
  ASSERT_TRUE(released) << released.error().message();
  EXPECT_EQ(*released, 7);
}

TEST_P(RpcOverTransport, ManyThreadsMixingCallForms_EveryAnswerMatched) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  constexpr int kThreads = 8;
  constexpr int kCalls = 40;
  std::atomic<int> wrong{0};
  std::atomic<long> answered_sum{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::pair<int, std::future<Result<int>>>> later;
      for (int i = 0; i < kCalls; ++i) {
        const int value = t * 1000 + i;
        Result<int> sum = 0;
        switch (i % 4) {
          case 0:  // collected after the others: its answer is read by whoever reads then
            later.emplace_back(value, client->async_call<int>("add", value, 0));
            continue;
          case 1: sum = client->call_for<int>(20s, "add", value, 0); break;
          case 2:
            if (!client->notify("record", value)) wrong.fetch_add(1);
            sum = client->call<int>("add", value, 0);
            break;
          default: sum = client->call<int>("add", value, 0); break;
        }
        if (sum && *sum == value) {
          answered_sum.fetch_add(value);
        } else {
          wrong.fetch_add(1);
        }
      }
      for (auto& [value, future] : later) {
        if (future.wait_for(20s) != std::future_status::ready) {
          wrong.fetch_add(1);
          continue;
        }
        auto sum = future.get();
        if (sum && *sum == value) {
          answered_sum.fetch_add(value);
        } else {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  // Every value t * 1000 + i answered exactly once.
  long expected = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kCalls; ++i) expected += t * 1000 + i;
  }
  EXPECT_EQ(answered_sum.load(), expected);
}

TEST_P(RpcOverTransport, CallerTimingOutWhileOthersWait_TheOthersStillAnswered) {
  ServerProcess server(url());
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  std::atomic<int> wrong{0};
  std::thread caller([&] {
    for (int i = 0; i < 50; ++i) {
      auto sum = client->call_for<int>(20s, "add", i, 1);
      if (!sum || *sum != i + 1) wrong.fetch_add(1);
    }
  });
  // This call may be the one reading when its time runs out: reading must pass to the other.
  for (int round = 0; round < 3; ++round) {
    auto late = client->call_for<int>(30ms, "wait_at_gate", 1);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code(), Errc::timed_out) << late.error().message();
  }
  caller.join();
  EXPECT_EQ(wrong.load(), 0);
  ASSERT_TRUE(client->call_for<void>(20s, "open_gate"));
  EXPECT_EQ(client->call_for<int>(20s, "add", 2, 2).value_or(0), 4);
}

TEST_P(RpcOverTransport, DestroyedWithACallInFlight_TheCallFailsWithClosed) {
  ServerProcess server(url());
  std::optional<rpc::Client> client;
  {
    auto connected = rpc::Client::connect(server.url());
    ASSERT_TRUE(connected) << connected.error().message();
    client.emplace(std::move(*connected));
  }
  auto in_flight = client->async_call<int>("wait_at_gate", 5);
  // The request has reached the server once a later call on the connection is answered.
  ASSERT_EQ(client->call_for<int>(20s, "add", 1, 1).value_or(0), 2);
  client.reset();
  ASSERT_EQ(in_flight.wait_for(20s), std::future_status::ready);
  auto result = in_flight.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), Errc::closed) << result.error().message();
  // The server goes on: it answers a new client and lets the blocked handler go.
  auto opener = rpc::Client::connect(server.url());
  ASSERT_TRUE(opener) << opener.error().message();
  EXPECT_TRUE(opener->call_for<void>(20s, "open_gate"));
  EXPECT_EQ(opener->call_for<int>(20s, "add", 3, 3).value_or(0), 6);
}

TEST_P(RpcOverTransport, ServerGone_IsConnectedTurnsFalseWithoutACall) {
  std::optional<rpc::Client> client;
  {
    ServerProcess server(url());
    auto connected = rpc::Client::connect(server.url());
    ASSERT_TRUE(connected) << connected.error().message();
    client.emplace(std::move(*connected));
    ASSERT_EQ(client->call<int>("add", 1, 1).value_or(0), 2);
    EXPECT_TRUE(client->is_connected());
  }
  // Nobody reads between calls: is_connected() looks for itself (the server has exited).
  for (int i = 0; i < 2000 && client->is_connected(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(client->is_connected());
}

INSTANTIATE_TEST_SUITE_P(Schemes, RpcOverTransport,
                         ::testing::Values("unix", "tcp", "shm", "mq", "fifo"),
                         [](const auto& info) { return info.param; });

class RpcStream : public ProcessTest {};

TEST_F(RpcStream, MalformedBytes_ThatConnectionClosedOthersStillServed) {
  ServerProcess server("unix://" + namespace_path() + "/rpc.sock");
  auto good = rpc::Client::connect(server.url());
  ASSERT_TRUE(good) << good.error().message();
  auto bad = connect(server.url(), Framing::none);
  ASSERT_TRUE(bad) << bad.error().message();
  // 0xc1 is never used in msgpack.
  const std::byte garbage[] = {std::byte{0x94}, std::byte{0xc1}, std::byte{0xc1}, std::byte{0xc1}};
  ASSERT_TRUE(bad->send(garbage));
  auto answer = bad->receive_for(20s);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code(), Errc::closed) << answer.error().message();
  EXPECT_EQ(good->call<int>("add", 5, 6).value_or(0), 11);
  auto fresh = rpc::Client::connect(server.url());
  ASSERT_TRUE(fresh) << fresh.error().message();
  EXPECT_EQ(fresh->call<int>("add", 7, 8).value_or(0), 15);
}

// Found by fuzz/rpc_fuzz.cpp: a container header made the unpacker allocate all its claimed
// elements at once (five bytes could ask for 64 GiB) and then wait for them.
TEST_F(RpcStream, ContainerClaimingTooManyElements_ThatConnectionClosedAtOnce) {
  ServerProcess server("unix://" + namespace_path() + "/rpc.sock");
  auto bad = connect(server.url(), Framing::none);
  ASSERT_TRUE(bad) << bad.error().message();
  // An array32 header claiming 2^28 elements (4 GiB of msgpack objects), and nothing after it.
  const std::byte header[] = {std::byte{0xdd}, std::byte{0x10}, std::byte{0x00}, std::byte{0x00},
                              std::byte{0x00}};
  ASSERT_TRUE(bad->send(header));
  auto answer = bad->receive_for(20s);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code(), Errc::closed) << answer.error().message();
  auto good = rpc::Client::connect(server.url());
  ASSERT_TRUE(good) << good.error().message();
  EXPECT_EQ(good->call<int>("add", 2, 3).value_or(0), 5);
}

TEST_F(RpcStream, MalformedMessage_OnAMessageTransportClosesThatConnection) {
  ServerProcess server("mq://conduit-rpc-bad-" + std::to_string(::getpid()));
  auto bad = connect(server.url());
  ASSERT_TRUE(bad) << bad.error().message();
  ASSERT_TRUE(bad->send(std::string_view("\xc1\xc1", 2)));
  auto answer = bad->receive_for(20s);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code(), Errc::closed) << answer.error().message();
  auto good = rpc::Client::connect(server.url());
  ASSERT_TRUE(good) << good.error().message();
  EXPECT_EQ(good->call<int>("add", 1, 2).value_or(0), 3);
}

TEST_F(RpcStream, StartAndStop_InOneProcess) {
  rpc::Server server;
  server.bind("add", [](int a, int b) { return a + b; });
  ASSERT_TRUE(server.start("tcp://127.0.0.1:0"));
  auto client = rpc::Client::connect(server.url());
  ASSERT_TRUE(client) << client.error().message();
  Result<int> r = client->call<int>("add", 1, 2);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 3);
  server.stop();
  auto after = client->call_for<int>(20s, "add", 1, 2);
  EXPECT_FALSE(after);
}

}  // namespace
}  // namespace conduit::test
