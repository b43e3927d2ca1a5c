#include "conduit/core/error.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace conduit {
namespace {

TEST(Error, CarriesCodeMessageAndErrorCode) {
  const Error error(Errc::not_found, "mailbox 'jobs': open: not found");
  EXPECT_EQ(error.code(), Errc::not_found);
  EXPECT_EQ(error.message(), "mailbox 'jobs': open: not found");
  EXPECT_EQ(error.error_code(), std::error_code(Errc::not_found));
  EXPECT_EQ(error.error_code().message(), "not found");
  EXPECT_STREQ(error.error_code().category().name(), "conduit");
  EXPECT_TRUE(error == Errc::not_found);
}

TEST(Error, CopiesShareTheirMessageAndAPrebuiltOneIsReturnedWithoutACopy) {
  const auto text = std::make_shared<const std::string>("mailbox 'x': try_receive: no message");
  const Error prebuilt(Errc::would_block, text);
  const Error copy = prebuilt;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.code(), Errc::would_block);
  EXPECT_EQ(&copy.message(), text.get()) << "the copy shares the message";
  EXPECT_EQ(copy.message(), "mailbox 'x': try_receive: no message");
  Error moved_from(Errc::io, "gone");
  const Error taken = std::move(moved_from);
  EXPECT_EQ(taken.message(), "gone");
  EXPECT_TRUE(moved_from.message().empty());  // NOLINT(bugprone-use-after-move): still valid
}

TEST(Error, FromASystemCallNamesTheContextAndTheCall) {
  const auto error = Error::from_sys({ENOSPC, "posix_fallocate"}, "shared memory 'a': create");
  EXPECT_EQ(error.code(), Errc::limit_reached);
  EXPECT_EQ(error.message(),
            "shared memory 'a': create: No space left on device (posix_fallocate)");
}

TEST(Error, ErrnoMapsToTheNearestCode) {
  EXPECT_EQ(errc_from_errno(EAGAIN), Errc::would_block);
  EXPECT_EQ(errc_from_errno(ETIMEDOUT), Errc::timed_out);
  EXPECT_EQ(errc_from_errno(EPIPE), Errc::closed);
  EXPECT_EQ(errc_from_errno(EOWNERDEAD), Errc::owner_died);
  EXPECT_EQ(errc_from_errno(ENOENT), Errc::not_found);
  EXPECT_EQ(errc_from_errno(EEXIST), Errc::already_exists);
  EXPECT_EQ(errc_from_errno(EACCES), Errc::permission_denied);
  EXPECT_EQ(errc_from_errno(EMSGSIZE), Errc::message_too_large);
  EXPECT_EQ(errc_from_errno(EINVAL), Errc::invalid_argument);
  EXPECT_EQ(errc_from_errno(ENOMEM), Errc::limit_reached);
  EXPECT_EQ(errc_from_errno(EINTR), Errc::interrupted);
  EXPECT_EQ(errc_from_errno(EIO), Errc::io);
}

TEST(Error, EveryCodeHasADescription) {
  for (int code = 1; code <= static_cast<int>(Errc::io); ++code)
    EXPECT_NE(describe(static_cast<Errc>(code)), "unknown error") << code;
}

}  // namespace
}  // namespace conduit
