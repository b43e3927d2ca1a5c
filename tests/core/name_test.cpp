#include "conduit/core/name.hpp"
#include "conduit/core/digest.hpp"

#include <gtest/gtest.h>

#include <string>

namespace conduit {
namespace {

TEST(Name, AcceptsLettersDigitsDotUnderscoreDash) {
  EXPECT_TRUE(is_valid_name("jobs"));
  EXPECT_TRUE(is_valid_name("A.b_c-9"));
  EXPECT_TRUE(is_valid_name(".hidden"));
  EXPECT_TRUE(is_valid_name(std::string(200, 'x')));
}

TEST(Name, RefusesEverythingElse) {
  for (const std::string bad :
       {std::string(), std::string("."), std::string(".."), std::string("a/b"), std::string("/abs"),
        std::string("a b"), std::string("a\0b", 3), std::string(201, 'x'),
        std::string("caf\xc3\xa9"), std::string("tab\t")}) {
    auto checked = check_name("mailbox", bad);
    ASSERT_FALSE(checked) << printable_name(bad);
    EXPECT_EQ(checked.error().code(), Errc::invalid_argument);
    EXPECT_TRUE(checked.error().message().starts_with("mailbox '")) << checked.error().message();
  }
}

TEST(Name, MessagesSayWhatIsWrong) {
  EXPECT_EQ(check_name("mailbox", "a/b").error().message(),
            "mailbox 'a/b': invalid name: character / at position 1; only [A-Za-z0-9._-] are "
            "allowed");
  EXPECT_EQ(check_name("mailbox", std::string(201, 'x'))
                    .error()
                    .message()
                    .find("201 characters, at most 200") != std::string::npos,
            true);
  EXPECT_EQ(check_name("mailbox", std::string("a\0b", 3)).error().message(),
            "mailbox 'a\\x00b': invalid name: character \\x00 at position 1; only "
            "[A-Za-z0-9._-] are allowed");
}

}  // namespace
}  // namespace conduit

namespace conduit {
namespace {

TEST(Name, InternalNamesJoinUserNamesWithHash) {
  EXPECT_FALSE(is_valid_name("alice#bob")) << "users cannot make internal names";
  EXPECT_TRUE(is_valid_name("alice#bob", NameUse::internal));
  EXPECT_TRUE(is_valid_name("plain", NameUse::internal));
  EXPECT_FALSE(is_valid_name("alice#", NameUse::internal));
  EXPECT_FALSE(is_valid_name("#bob", NameUse::internal));
  EXPECT_FALSE(is_valid_name("a##b", NameUse::internal));
  EXPECT_FALSE(is_valid_name("a#..", NameUse::internal));
  EXPECT_FALSE(is_valid_name("a#b/c", NameUse::internal));
  EXPECT_FALSE(
      is_valid_name(std::string(200, 'a') + "#" + std::string(200, 'b'), NameUse::internal))
      << "longer than a file name may be";
  EXPECT_EQ(internal_name({"alice", "bob"}), "alice#bob");
}

TEST(Name, AnInvalidInternalNameIsSaidOfItsWrongPart) {
  EXPECT_EQ(
      check_name("mailbox", std::string(200, 'a') + "#" + std::string(200, 'b'), NameUse::internal)
          .error()
          .message()
          .substr(76),
      "(401 bytes)': invalid internal name: 401 characters, at most 255");
  EXPECT_EQ(check_name("mailbox", "a##b", NameUse::internal).error().message(),
            "mailbox 'a##b': invalid internal name: part '': invalid name: empty");
  EXPECT_EQ(check_name("mailbox", "a#b/c", NameUse::internal).error().message(),
            "mailbox 'a#b/c': invalid internal name: part 'b/c': invalid name: character / at "
            "position 1; only [A-Za-z0-9._-] are allowed");
}

TEST(Digest, IsFnv1a64) {
  // The published FNV-1a 64 test vectors: names made short with it must read alike in every
  // process and build.
  EXPECT_EQ(fnv1a_64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a_64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a_64("foobar"), 0x85944171f73967e8ULL);
}

}  // namespace
}  // namespace conduit
