#include "conduit/shm/segment.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

#include "conduit/shm/offset_ptr.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "process.hpp"

namespace conduit::shm {
namespace {

// Corrupted segments must fail to open with `corrupted`. Run under ASan too (make test-asan):
// no read may leave the mapping.
class CorruptSegmentTest : public test::ProcessTest {
 protected:
  void SetUp() override {
    test::ProcessTest::SetUp();
    ASSERT_TRUE(SharedMemory::create("victim", {.size = 10000}));
    path_ = namespace_path() + "/victim";
  }
  SegmentHeader read_header() const {
    SegmentHeader header{};
    const int fd = ::open(path_.c_str(), O_RDONLY);
    EXPECT_EQ(::pread(fd, &header, sizeof header, 0), static_cast<ssize_t>(sizeof header));
    ::close(fd);
    return header;
  }
  void write_at(std::size_t offset, const void* data, std::size_t size) const {
    const int fd = ::open(path_.c_str(), O_WRONLY);
    ASSERT_EQ(::pwrite(fd, data, size, static_cast<off_t>(offset)), static_cast<ssize_t>(size));
    ::close(fd);
  }
  void write_header(SegmentHeader header, bool fix_checksum) const {
    if (fix_checksum) header.checksum = header_checksum(header);
    write_at(0, &header, sizeof header);
  }
  void truncate_to(off_t size) const { ASSERT_EQ(::truncate(path_.c_str(), size), 0); }
  static void expect_corrupted(std::string_view what) {
    auto opened = SharedMemory::open("victim");
    ASSERT_FALSE(opened) << what;
    EXPECT_EQ(opened.error().code(), Errc::corrupted) << what << ": " << opened.error().message();
    EXPECT_TRUE(opened.error().message().starts_with("shared memory 'victim': open: corrupted: "))
        << opened.error().message();
  }

  std::string path_;
};

TEST_F(CorruptSegmentTest, IntactSegmentOpens) { EXPECT_TRUE(SharedMemory::open("victim")); }

TEST_F(CorruptSegmentTest, GarbageHeaderIsCorrupted) {
  std::vector<unsigned char> garbage(4096);
  std::mt19937 random(1);
  for (auto& byte : garbage) byte = static_cast<unsigned char>(random());
  write_at(0, garbage.data(), garbage.size());
  expect_corrupted("garbage");
}

TEST_F(CorruptSegmentTest, ChangedFieldWithoutChecksumIsCorrupted) {
  auto header = read_header();
  header.payload_size = 1;
  write_header(header, false);
  expect_corrupted("checksum");
}

TEST_F(CorruptSegmentTest, WrongSizesWithAValidChecksumAreCorrupted) {
  const auto intact = read_header();
  struct Case {
    const char* what;
    void (*change)(SegmentHeader&);
  };
  const Case cases[] = {
      {"payload beyond the file", [](SegmentHeader& h) { h.payload_size = h.segment_size; }},
      {"huge payload", [](SegmentHeader& h) { h.payload_size = ~std::uint64_t{0}; }},
      {"zero payload", [](SegmentHeader& h) { h.payload_size = 0; }},
      {"segment size", [](SegmentHeader& h) { h.segment_size += 4096; }},
      {"payload offset", [](SegmentHeader& h) { h.payload_offset = 1u << 30; }},
      {"header size", [](SegmentHeader& h) { h.header_size = 7; }},
      {"version", [](SegmentHeader& h) { h.layout_version = 99; }},
      {"kind", [](SegmentHeader& h) { h.kind = 1000; }},
      {"lifetime", [](SegmentHeader& h) { h.lifetime = 7; }},
      {"type size", [](SegmentHeader& h) { h.type_size = h.payload_size + 1; }},
      {"type alignment", [](SegmentHeader& h) { h.type_align = 3; }},
  };
  for (const auto& c : cases) {
    auto header = intact;
    c.change(header);
    write_header(header, true);
    expect_corrupted(c.what);
  }
}

TEST_F(CorruptSegmentTest, TruncatedFileIsCorrupted) {
  truncate_to(8192);  // header intact, file shorter than it says
  expect_corrupted("shorter than the header says");
  truncate_to(100);
  expect_corrupted("shorter than a header");
  truncate_to(0);
  expect_corrupted("empty");
}

TEST_F(CorruptSegmentTest, NotARegularFileIsRefused) {
  ASSERT_TRUE(SharedMemory::remove("victim"));
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  expect_corrupted("a FIFO under the name");
}

TEST_F(CorruptSegmentTest, CorruptedObjectCanStillBeRemoved) {
  truncate_to(10);
  EXPECT_TRUE(SharedMemory::remove("victim"));
}

TEST(ValidateSegment, RandomBytesNeverPassOrCrash) {
  std::mt19937_64 random(42);
  std::vector<std::byte> bytes(8192);
  for (int round = 0; round < 2000; ++round) {
    for (auto& byte : bytes) byte = std::byte(random());
    const std::size_t size = random() % bytes.size();
    auto checked = validate_segment(std::span(bytes).first(size), "fuzz");
    ASSERT_FALSE(checked);
    EXPECT_EQ(checked.error().code(), Errc::corrupted);
  }
}

TEST(Offset, ResolvesOnlyInsideTheSegmentAndAligned) {
  alignas(8) std::byte storage[64]{};
  std::span<std::byte> segment(storage);
  EXPECT_EQ(Offset<std::uint64_t>(0).resolve(segment), reinterpret_cast<std::uint64_t*>(storage));
  EXPECT_NE(Offset<std::uint64_t>(56).resolve(segment), nullptr);
  EXPECT_EQ(Offset<std::uint64_t>(57).resolve(segment), nullptr) << "misaligned";
  EXPECT_EQ(Offset<std::uint64_t>(64).resolve(segment), nullptr) << "past the end";
  EXPECT_EQ(Offset<std::uint64_t>(48).resolve(segment, 3), nullptr) << "runs past the end";
  EXPECT_NE(Offset<std::uint64_t>(48).resolve(segment, 2), nullptr);
  EXPECT_EQ(Offset<std::uint64_t>(~std::uint64_t{0}).resolve(segment), nullptr);
  EXPECT_EQ(Offset<std::uint64_t>(8).resolve(segment, ~std::size_t{0}), nullptr);
  auto* p = reinterpret_cast<std::uint64_t*>(storage + 16);
  EXPECT_EQ(Offset<std::uint64_t>::of(segment, p).value(), 16u);
}

}  // namespace
}  // namespace conduit::shm
