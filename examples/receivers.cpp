// Who receives a mailbox's messages. any_one: each message to one receiver, and
// send_and_wait's receipt names which. broadcast: every receiver gets every message.
// exclusive: one receiving process at a time. pair: two processes, ever.
#include "example.hpp"

using namespace std::chrono_literals;

int main() {
  example::use_private_namespace();
  auto work = example::must(conduit::Mailbox::create("work"), "create");
  std::vector<pid_t> workers;
  for (int w = 0; w < 2; ++w) {
    workers.push_back(example::spawn([] {
      auto mine = example::must(conduit::Mailbox::open("work"), "open");
      while (auto job = mine.receive_for(500ms)) {
        if (job->text() == "stop") break;
      }
      return 0;
    }));
  }
  for (int job = 1; job <= 4; ++job) {
    auto receipt = example::must(work.send_and_wait("job " + std::to_string(job)), "send_and_wait");
    example::say("any_one", "job " + std::to_string(job) + " was taken by pid " +
                                std::to_string(receipt.receiver.pid));
  }
  for (std::size_t w = 0; w < workers.size(); ++w) example::must(work.send("stop"), "send");
  for (pid_t worker : workers) example::join(worker);

  auto news = example::must(
      conduit::Mailbox::create("news", {.receivers = conduit::Receivers::broadcast}), "create");
  std::vector<pid_t> readers;
  for (int r = 0; r < 3; ++r) {
    readers.push_back(example::spawn([r] {
      auto mine = example::must(conduit::Mailbox::open("news"), "open");  // a receiver from now on
      auto headline = example::must(mine.receive(), "receive");
      example::say("broadcast",
                   "reader " + std::to_string(r) + " read '" + std::string(headline.text()) + "'");
      return 0;
    }));
  }
  while (news.stats().receivers_attached.size() < 3) ::usleep(1000);
  example::must(news.send("extra! extra!"), "send");
  for (pid_t reader : readers) example::join(reader);

  auto solo = example::must(
      conduit::Mailbox::create("solo", {.receivers = conduit::Receivers::exclusive}), "create");
  (void)solo.try_receive();  // this process is the receiver now
  const pid_t intruder = example::spawn([] {
    auto mine = example::must(conduit::Mailbox::open("solo"), "open");
    example::say("exclusive", "another process: " + mine.try_receive().error().message());
    return 0;
  });
  example::join(intruder);

  auto link = example::must(
      conduit::Mailbox::create("link", {.receivers = conduit::Receivers::pair}), "create");
  const pid_t second = example::spawn([] {
    example::must(conduit::Mailbox::open("link"), "open");
    example::say("pair", "the second process joined");
    return 0;
  });
  example::join(second);
  const pid_t third = example::spawn([] {
    example::say("pair", "a third: " + conduit::Mailbox::open("link").error().message());
    return 0;
  });
  example::join(third);
  return 0;
}
