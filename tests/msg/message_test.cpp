#include "conduit/msg/message.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace conduit {
namespace {

TEST(Message, OwnsItsBytesAndSharesLargeOnesOnCopy) {
  const std::string large(Message::kInlineBytes + 1, 'L');
  Message message = Message::copy_of(bytes_of(std::string_view(large)), 7, ProcessId{12, 34}, 9);
  EXPECT_EQ(message.text(), large);
  EXPECT_EQ(message.type(), 7);
  EXPECT_EQ(message.sender(), (ProcessId{12, 34}));
  EXPECT_EQ(message.sequence(), 9u);
  const Message copy = message;
  EXPECT_EQ(copy.payload().data(), message.payload().data()) << "large bytes are shared";
  message = Message();
  EXPECT_EQ(copy.text(), large) << "the copy keeps the bytes alive";
}

TEST(Message, KeepsSmallBytesInsideItselfThroughCopiesAndMoves) {
  const std::string small(Message::kInlineBytes, 's');
  auto message = std::make_unique<Message>(
      Message::copy_of(bytes_of(std::string_view(small)), 3, ProcessId{5, 6}, 2));
  EXPECT_EQ(message->text(), small);
  EXPECT_EQ(message->size(), small.size());
  const auto* inside = reinterpret_cast<const std::byte*>(message.get());
  EXPECT_TRUE(message->payload().data() >= inside &&
              message->payload().data() < inside + sizeof(Message))
      << "a small message's bytes live in the Message";
  const Message copy = *message;
  Message moved = std::move(*message);
  message.reset();  // the original's storage is gone
  EXPECT_EQ(copy.text(), small);
  EXPECT_EQ(moved.text(), small);
  EXPECT_EQ(moved.type(), 3);
  EXPECT_EQ(moved.sender(), (ProcessId{5, 6}));
  EXPECT_EQ(moved.sequence(), 2u);
  EXPECT_TRUE(copy.writable_payload().empty());
}

TEST(Message, CopiesEverySizeAroundTheInlineLimitExactly) {
  std::string source(2 * Message::kInlineBytes + 3, '\0');
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<char>('a' + i % 26);
  for (std::size_t size = 0; size <= source.size(); ++size) {
    const std::string_view expected(source.data(), size);
    const Message message = Message::copy_of(bytes_of(expected));
    ASSERT_EQ(message.size(), size);
    ASSERT_EQ(message.text(), expected) << "size " << size;
  }
}

TEST(Message, AssignCopyReplacesWhateverTheMessageHeld) {
  auto buffer = std::make_shared<std::string>("held by an owner");
  std::weak_ptr<std::string> watch = buffer;
  Message message(bytes_of(std::string_view(*buffer)), buffer, 4);
  message.set_sender_name(std::string("old-peer"));
  buffer.reset();
  message.assign_copy(bytes_of(std::string_view("small")), 8, ProcessId{1, 2}, 3);
  EXPECT_TRUE(watch.expired()) << "the old owner is let go";
  EXPECT_EQ(message.text(), "small");
  EXPECT_EQ(message.type(), 8);
  EXPECT_TRUE(message.sender_name().empty());
  const std::string large(1000, 'x');
  message.assign_copy(bytes_of(std::string_view(large)));
  EXPECT_EQ(message.text(), large);
  message.assign_copy({});
  EXPECT_EQ(message.size(), 0u);
  EXPECT_TRUE(message.text().empty());
}

TEST(Message, KeepsAnOwnerAliveForAView) {
  auto buffer = std::make_shared<std::string>("mapped bytes");
  std::weak_ptr<std::string> watch = buffer;
  {
    Message message(bytes_of(std::string_view(*buffer)), buffer);
    buffer.reset();
    EXPECT_FALSE(watch.expired());
    EXPECT_EQ(message.text(), "mapped bytes");
  }
  EXPECT_TRUE(watch.expired());
}

TEST(Message, SenderNameIsEmptyUntilSetAndSharedNamesAreNotCopied) {
  Message message = Message::copy_of(bytes_of(std::string_view("hi")));
  EXPECT_TRUE(message.sender_name().empty());
  message.set_sender_name(std::string("peer-from-a-string"));
  EXPECT_EQ(message.sender_name(), "peer-from-a-string");
  auto shared = std::make_shared<const std::string>("peer-with-a-rather-long-name");
  message.set_sender_name(shared);
  const Message copy = message;
  EXPECT_EQ(&copy.sender_name(), shared.get()) << "a carrier's name is shared, not copied";
  EXPECT_EQ(message.sender_name(), "peer-with-a-rather-long-name");
  std::weak_ptr<const std::string> watch = shared;
  shared.reset();
  message = Message();
  EXPECT_EQ(copy.sender_name(), "peer-with-a-rather-long-name") << "the copy keeps it alive";
  EXPECT_TRUE(message.sender_name().empty());
  EXPECT_FALSE(watch.expired());
}

TEST(Capacity, SaysWhatItIs) {
  EXPECT_TRUE(Capacity::zero().is_zero());
  EXPECT_TRUE(Capacity::bounded(3).is_bounded());
  EXPECT_EQ(Capacity::bounded(3).limit, 3u);
  EXPECT_TRUE(Capacity::unbounded().is_unbounded());
  EXPECT_NE(Capacity::bounded(3), Capacity::bounded(4));
}

TEST(BytesOf, ViewsValuesAndText) {
  const std::uint32_t value = 0x01020304;
  EXPECT_EQ(bytes_of(value).size(), 4u);
  EXPECT_EQ(bytes_of(std::string_view("abc")).size(), 3u);
}

}  // namespace
}  // namespace conduit
