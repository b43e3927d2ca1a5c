// Security of the message-passing objects (DESIGN: "Names, lifetime and permissions"): the
// kernel's permission check is the access control; the namespace refuses symbolic links and
// directories anyone may write into; bad names touch no file; and sizes read from shared memory
// never drive a copy.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "conduit/msg/channel.hpp"
#include "conduit/msg/endpoint.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/msg/mailbox_layout.hpp"
#include "conduit/shm/shared.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::run_in_child;
using namespace std::chrono_literals;

class SecurityTest : public test::ProcessTest {
 protected:
  [[nodiscard]] std::string file_of(const std::string& name) const {
    return namespace_path() + "/" + name;
  }
  [[nodiscard]] std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(namespace_path()))
      names.push_back(entry.path().filename().string());
    return names;
  }
};

/// In a child: drops to `nobody`, then runs `body`.
int as_nobody(const std::function<int()>& body) {
  const passwd* nobody = ::getpwnam("nobody");
  CHILD_CHECK(nobody != nullptr);
  CHILD_CHECK(::setgid(nobody->pw_gid) == 0);
  CHILD_CHECK(::setuid(nobody->pw_uid) == 0);
  return body();
}

TEST_F(SecurityTest, MailboxAndChannelMade0600CannotBeOpenedByAnotherUser) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root: the test drops a child to the user `nobody`, and only root "
                    "can switch to another uid";
  // The namespace admits others, so each object's own mode is what decides.
  ASSERT_EQ(::chmod(namespace_path().c_str(), 0755), 0);
  ASSERT_TRUE(Mailbox::create("private-box", {.mode = 0600}));
  ASSERT_TRUE(Channel<int>::create("private-channel", {.mode = 0600}));
  ASSERT_TRUE(Mailbox::create("open-box", {.mode = 0666}));
  auto exit = run_in_child([] {
    return as_nobody([] {
      auto box = Mailbox::open("private-box");
      CHILD_CHECK(!box);
      CHILD_CHECK(box.error().code() == Errc::permission_denied);
      auto channel = Channel<int>::open("private-channel");
      CHILD_CHECK(!channel);
      CHILD_CHECK(channel.error().code() == Errc::permission_denied);
      // Nor may it remove them: the namespace directory is not writable by others.
      CHILD_CHECK(!Mailbox::remove("private-box"));
      // The same user, a mode that admits others: the refusals above were the mode's.
      auto open_box = Mailbox::open("open-box");
      CHILD_CHECK(open_box.has_value());
      CHILD_CHECK(open_box->send(std::string_view("from nobody")).has_value());
      return 0;
    });
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  auto box = Mailbox::open("open-box");
  ASSERT_TRUE(box);
  auto got = box->try_receive();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->text(), "from nobody");
  EXPECT_TRUE(Mailbox::open("private-box"));
}

TEST_F(SecurityTest, NamesWithSlashDotDotOrNulAreRefusedBeforeAnyFileIsTouched) {
  // A file beside the namespace that a name escaping it would reach.
  const std::string outside = namespace_path() + "-outside";
  const std::vector<std::string> bad = {"a/b",
                                        "/etc/passwd",
                                        "..",
                                        ".",
                                        "../" + std::filesystem::path(outside).filename().string(),
                                        std::string("a\0b", 3),
                                        std::string("\0", 1),
                                        "",
                                        std::string(201, 'n'),
                                        "a b",
                                        "a#b"};
  for (const auto& name : bad) {
    SCOPED_TRACE("name '" + name + "' (" + std::to_string(name.size()) + " bytes)");
    const auto is_invalid = [](const auto& result) {
      return !result.has_value() && result.error().code() == Errc::invalid_argument;
    };
    EXPECT_TRUE(is_invalid(Mailbox::create(name)));
    EXPECT_TRUE(is_invalid(Mailbox::open(name)));
    EXPECT_TRUE(is_invalid(Mailbox::remove(name)));
    EXPECT_TRUE(is_invalid(Channel<int>::create(name)));
    EXPECT_TRUE(is_invalid(Channel<int>::open(name)));
    EXPECT_TRUE(is_invalid(Channel<int>::remove(name)));
    EXPECT_TRUE(is_invalid(SharedMemory::create(name, {.size = 64})));
    EXPECT_TRUE(is_invalid(SharedMemory::open(name)));
    EXPECT_TRUE(is_invalid(SharedMemory::remove(name)));
    EXPECT_TRUE(is_invalid(Shared<int>::create(name)));
    EXPECT_TRUE(is_invalid(Shared<int>::open(name)));
    EXPECT_TRUE(is_invalid(Endpoint::join(name)));
  }
  EXPECT_TRUE(files().empty()) << "a file appeared: " << files().front();
  EXPECT_FALSE(std::filesystem::exists(outside));
}

TEST_F(SecurityTest, MailboxOrChannelFileThatIsASymbolicLinkIsRefused) {
  ASSERT_TRUE(Mailbox::create("real-box"));
  ASSERT_TRUE(Channel<int>::create("real-channel"));
  std::filesystem::create_symlink(file_of("real-box"), file_of("link-box"));
  std::filesystem::create_symlink(file_of("real-channel"), file_of("link-channel"));
  auto box = Mailbox::open("link-box");
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().code(), Errc::permission_denied) << box.error().message();
  auto channel = Channel<int>::open("link-channel");
  ASSERT_FALSE(channel);
  EXPECT_EQ(channel.error().code(), Errc::permission_denied) << channel.error().message();
  // A link planted under a name about to be created is not followed either.
  std::filesystem::create_symlink("/tmp/conduit-security-target", file_of("planted"));
  EXPECT_FALSE(Mailbox::create("planted"));
  EXPECT_FALSE(std::filesystem::exists("/tmp/conduit-security-target"));
}

TEST_F(SecurityTest, NamespaceAnyoneMayWriteIntoIsRefusedUnlessSticky) {
  ASSERT_EQ(::chmod(namespace_path().c_str(), 0777), 0);
  auto box = Mailbox::create("box");
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().code(), Errc::permission_denied) << box.error().message();
  auto channel = Channel<int>::create("channel");
  ASSERT_FALSE(channel);
  EXPECT_EQ(channel.error().code(), Errc::permission_denied) << channel.error().message();
  // With the sticky bit (as /tmp), nobody can unlink or rename another user's files: allowed.
  ASSERT_EQ(::chmod(namespace_path().c_str(), 01777), 0);
  EXPECT_TRUE(Mailbox::create("box"));
}

TEST_F(SecurityTest, NamespaceThatIsASymbolicLinkIsRefusedForMailboxes) {
  const std::string link = namespace_path() + "-link";
  std::filesystem::create_directory_symlink(namespace_path(), link);
  ::setenv("CONDUIT_NAMESPACE", link.c_str(), 1);
  auto box = Mailbox::create("box");
  ::setenv("CONDUIT_NAMESPACE", namespace_path().c_str(), 1);
  std::filesystem::remove(link);
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().code(), Errc::permission_denied) << box.error().message();
}

/// Where `marker` lies in the file of object `name` (the payload of a queued message).
std::size_t offset_of(const std::string& path, std::string_view marker) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes.find(marker);
}

// A slot's size field is what receive copies by. A peer (or a stray write) that sets it past
// max_message_size, or past the end of the segment, must get `corrupted`, never a copy or an
// allocation of that size.
TEST_F(SecurityTest, SizeInASlotHeaderNeverDrivesACopyOrAllocation) {
  // A sent message lies in a ready ring cell (msg::RingCell), a committed loan's in a slot.
  const std::vector<std::uint64_t> sizes = {257, 4096, std::uint64_t{1} << 40, ~std::uint64_t{0}};
  int round = 0;
  for (const std::uint64_t size : sizes) {
    for (const int variant : {0, 1, 2, 3}) {
      const bool is_view = (variant & 1) != 0;
      const bool is_slot = (variant & 2) != 0;
      SCOPED_TRACE("size " + std::to_string(size) + (is_view ? ", receive_view" : ", receive") +
                   (is_slot ? ", in a slot" : ", in the ring"));
      const std::string name = "sized" + std::to_string(round++);
      auto box = Mailbox::create(name, {.capacity = Capacity::bounded(4), .max_message_size = 256});
      ASSERT_TRUE(box);
      const std::string marker = "MARKER-" + name + std::string(40, 'x');
      if (is_slot) {
        auto loan = box->loan(marker.size());
        ASSERT_TRUE(loan);
        std::memcpy(loan->bytes().data(), marker.data(), marker.size());
        ASSERT_TRUE(loan->commit());
      } else {
        ASSERT_TRUE(box->send(std::string_view(marker)));
      }
      const std::size_t kSizeField =
          is_slot ? offsetof(msg::SlotHeader, size) : offsetof(msg::RingCell, size);
      const std::size_t kSlotHeader = is_slot ? sizeof(msg::SlotHeader) : sizeof(msg::RingCell);
      const std::size_t at = offset_of(file_of(name), marker);
      ASSERT_NE(at, std::string::npos);
      ASSERT_GE(at, kSlotHeader);
      const int fd = ::open(file_of(name).c_str(), O_RDWR);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::pwrite(fd, &size, sizeof size, static_cast<off_t>(at - kSlotHeader + kSizeField)),
                static_cast<ssize_t>(sizeof size));
      ::close(fd);
      // In a child, so that a crash fails the test instead of ending it.
      auto exit = run_in_child(
          [&] {
            auto mine = Mailbox::open(name);
            CHILD_CHECK(mine.has_value());
            if (is_view) {
              auto got = mine->receive_view_for(1s);
              CHILD_CHECK(!got);
              return got.error().code() == Errc::corrupted ? 0 : 2;
            }
            auto got = mine->receive_for(1s);
            CHILD_CHECK(!got);
            return got.error().code() == Errc::corrupted ? 0 : 2;
          },
          30s);
      EXPECT_TRUE(exit.ok()) << exit.describe();
    }
  }
}

}  // namespace
}  // namespace conduit
