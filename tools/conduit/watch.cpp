// conduit watch NAME: live depth and rates of a mailbox (depth and roles of a channel, which
// counts no messages), refreshed like top. q or Ctrl-C quits.
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "tool.hpp"

namespace conduit::tool {
namespace {

// Raw keyboard input while watching, restored on every way out.
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(STDIN_FILENO) == 0 || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    is_raw_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (is_raw_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool is_raw_ = false;
};

/// Waits `wait`; true when q was pressed (or the terminal closed). Input that is not a terminal
/// is not read: `conduit watch NAME -n 5 </dev/null >log` refreshes five times.
bool quit_pressed(std::chrono::milliseconds wait) {
  if (::isatty(STDIN_FILENO) == 0) {
    std::this_thread::sleep_for(wait);
    return false;
  }
  pollfd in{STDIN_FILENO, POLLIN, 0};
  if (::poll(&in, 1, static_cast<int>(wait.count())) <= 0) return false;
  char key = 0;
  if (::read(STDIN_FILENO, &key, 1) != 1) return true;  // input closed
  return key == 'q' || key == 'Q';
}

/// Per second between two refreshes; 0 on the first one (no `seconds` yet).
double per_second(double change, double seconds) { return seconds > 0 ? change / seconds : 0; }

/// A mailbox's lines of one refresh: depth and rates.
void print_mailbox(const std::string& name, const MailboxStats& stats, const MailboxStats& last,
                   double seconds) {
  fmt::print("conduit watch {}    (q quits)\n\n", name);
  fmt::print("  depth      {:>12} / {}\n", stats.depth, capacity_text(stats.capacity));
  fmt::print("  receivers  {:>12}   attached {}\n", receivers_text(stats.receivers),
             stats.attached.size());
  fmt::print("  sent       {:>12}   {:>10.0f} msg/s\n", stats.sent,
             per_second(static_cast<double>(stats.sent - last.sent), seconds));
  fmt::print("  received   {:>12}   {:>10.0f} msg/s\n", stats.received,
             per_second(static_cast<double>(stats.received - last.received), seconds));
  fmt::print("  would block{:>12}\n  dropped    {:>12}\n", stats.would_block, stats.dropped);
}

/// A channel's lines of one refresh: it keeps no counts of messages, so depth and roles.
void print_channel(const std::string& name, const ChannelStats& stats, const ChannelStats& last,
                   double seconds) {
  fmt::print("conduit watch {}    (q quits)\n\n", name);
  fmt::print("  channel    {:>12}   {} producer{}, lanes {}\n",
             stats.lanes > 1 ? fmt::format("{}/{}x{}", stats.depth, stats.lanes, stats.capacity)
                             : fmt::format("{}/{}", stats.depth, stats.capacity),
             stats.producers == Producers::one ? "one" : "many",
             stats.producers == Producers::one ? "" : "s", stats.lanes);
  fmt::print(
      "  depth      {:>12}   {:>+10.0f} records/s\n", stats.depth,
      per_second(static_cast<double>(stats.depth) - static_cast<double>(last.depth), seconds));
  fmt::print("  record     {:>12} bytes\n", stats.record_size);
  fmt::print("  consumer   {:>12}\n", stats.consumer.pid == 0
                                          ? std::string("none")
                                          : fmt::format("pid {}", stats.consumer.pid));
  std::string producers;
  for (const auto& process : stats.producers_attached)
    producers += fmt::format("{}{}", producers.empty() ? "" : " ", process.pid);
  fmt::print("  producers  {:>12}\n", producers.empty() ? std::string("none") : producers);
  if (stats.is_closed) fmt::print("  closed\n");
}

/// Refreshes every `period` until q is pressed or `iterations` rounds (0: no limit) are done:
/// each round prints what `read()` gives, beside the last round's and the seconds between.
template <class Read, class Print>
void refresh(std::chrono::milliseconds period, std::size_t iterations, Read read, Print print) {
  const bool is_screen = ::isatty(STDOUT_FILENO) != 0;  // else: one report after another
  auto last = read();
  auto last_time = std::chrono::steady_clock::now();
  for (std::size_t round = 1;; ++round) {
    const auto stats = read();
    const auto now = std::chrono::steady_clock::now();
    const double seconds = round == 1 ? 0 : std::chrono::duration<double>(now - last_time).count();
    if (is_screen) fmt::print("\033[H\033[2J");  // home, clear: a fresh screen each refresh
    print(stats, last, seconds);
    std::fflush(stdout);
    last = stats;
    last_time = now;
    if (iterations != 0 && round >= iterations) break;
    if (quit_pressed(period)) break;
  }
}

}  // namespace

void add_watch(CLI::App& app, int& exit_code) {
  auto* watch = app.add_subcommand(
      "watch", "Show a mailbox's depth and rates, or a channel's depth, live (q quits)");
  static std::string name;
  static std::string interval = "1s";
  static std::size_t iterations = 0;
  watch->add_option("name", name, "Mailbox or channel name")->required();
  watch->add_option("-i,--interval", interval, "Refresh interval (default 1s)");
  watch->add_option("-n,--iterations", iterations, "Stop after this many refreshes (0 = never)");
  watch->callback([&exit_code] {
    const auto period = parse_duration(interval);
    if (!period || *period < std::chrono::milliseconds(10)) {
      std::fprintf(stderr, "conduit watch: --interval %s: want a duration of at least 10ms\n",
                   interval.c_str());
      exit_code = kUsage;
      return;
    }
    const auto every = std::chrono::duration_cast<std::chrono::milliseconds>(*period);
    RawTerminal terminal;
    if (auto segment = shm::Segment::inspect(name);
        segment && segment->kind() == shm::SegmentKind::channel) {
      // Opening a channel claims no role (that happens on the first send or receive).
      const auto& header = segment->header();
      auto channel = msg::ChannelCore::open(name, header.type_size, header.type_align);
      if (!channel) {
        exit_code = report(channel.error());
        return;
      }
      refresh(
          every, iterations, [&] { return (*channel)->stats(); },
          [](const ChannelStats& stats, const ChannelStats& last, double seconds) {
            print_channel(name, stats, last, seconds);
          });
      exit_code = kOk;
      return;
    }
    auto box = Mailbox::open(name, MailboxRole::observer);
    if (!box) {
      exit_code = report(box.error());
      return;
    }
    refresh(
        every, iterations, [&] { return box->stats(); },
        [](const MailboxStats& stats, const MailboxStats& last, double seconds) {
          print_mailbox(name, stats, last, seconds);
        });
    exit_code = kOk;
  });
}

}  // namespace conduit::tool
