// A process-owned mailbox vanishes when its creator dies: the receiver blocked on it returns
// owner_died, and the name is free again. No daemon watches: the next conduit call notices.
#include <signal.h>

#include "example.hpp"

int main() {
  example::use_private_namespace();
  const pid_t owner = example::spawn([] {
    auto box = example::must(
        conduit::Mailbox::create("owned", {.lifetime = conduit::Lifetime::process}), "create");
    example::say("owner", "created 'owned'; now sleeps until killed");
    for (;;) ::pause();
    return 0;
  });
  conduit::Result<conduit::Mailbox> box = conduit::fail(conduit::Errc::not_found, "");
  while (!(box = conduit::Mailbox::open("owned"))) ::usleep(1000);
  const pid_t receiver = example::spawn([] {
    auto mine = example::must(conduit::Mailbox::open("owned"), "open");
    auto got = mine.receive();
    example::say("receiver", "receive returned: " + got.error().message());
    return 0;
  });
  ::usleep(100000);
  example::say("parent", "kills the owner with SIGKILL");
  ::kill(owner, SIGKILL);
  example::join(owner);
  example::join(receiver);
  example::say("parent", "open now: " + conduit::Mailbox::open("owned").error().message());
  return 0;
}
