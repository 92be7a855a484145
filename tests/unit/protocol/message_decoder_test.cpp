#include "protocol/message_decoder.hpp"

#include "protocol/message.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

namespace protocol = vhostd::protocol;
using Status = protocol::MessageDecoder::Status;

namespace {

int open_fd() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

std::string handle_line(std::uint64_t id) {
    protocol::ConnectionInfo info;
    info.id = id;
    return protocol::encode_handle(info);
}

}  // namespace

TEST(MessageDecoder, SplitsLinesAcrossChunks) {
    protocol::MessageDecoder decoder;
    protocol::IncomingMessage out;
    decoder.feed("{\"cmd\":\"vhostd:rea");
    EXPECT_EQ(decoder.next(out), Status::need_more);
    decoder.feed("dy\"}\n{\"cmd\":\"vhostd:heartbeat\"}\n{\"cmd\"");
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_EQ(protocol::command_of(out.message), "vhostd:ready");
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_EQ(protocol::command_of(out.message), "vhostd:heartbeat");
    EXPECT_EQ(decoder.next(out), Status::need_more);
}

TEST(MessageDecoder, PairsEachHandleWithTheFdOfItsChunk) {
    protocol::MessageDecoder decoder;
    const int first = open_fd();
    const int second = open_fd();
    const std::string one = handle_line(1);
    const std::string two = handle_line(2);
    // The kernel may glue a chunk without fds to the next one that has them.
    decoder.feed("{\"cmd\":\"vhostd:heartbeat\"}\n" + one.substr(0, 5), std::vector<int>{first});
    decoder.feed(one.substr(5) + two, std::vector<int>{second});

    protocol::IncomingMessage out;
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_FALSE(out.fd);
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_EQ(out.fd.get(), first);
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_EQ(out.fd.get(), second);
}

TEST(MessageDecoder, ClosesAnFdThatCameWithANonHandleMessage) {
    protocol::MessageDecoder decoder;
    const int stray = open_fd();
    decoder.feed("{\"cmd\":\"vhostd:ready\"}\n", std::vector<int>{stray});
    decoder.feed(handle_line(3));  // arrives later without an fd of its own
    protocol::IncomingMessage out;
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_EQ(decoder.next(out), Status::error);
    EXPECT_EQ(decoder.error(), "NODE_HANDLE without a file descriptor");
    EXPECT_FALSE(is_open(stray));
}

TEST(MessageDecoder, RejectsGarbageAndOverlongLines) {
    protocol::MessageDecoder garbage;
    protocol::IncomingMessage out;
    garbage.feed("hello\n");
    EXPECT_EQ(garbage.next(out), Status::error);
    EXPECT_EQ(garbage.next(out), Status::error) << "an error is final";

    protocol::MessageDecoder overlong;
    overlong.feed(std::string(protocol::max_message_size + 1, 'x'));
    EXPECT_EQ(overlong.next(out), Status::error);
}

// Node's process.send() from app code: any JSON that is not a command is the app's own
// message, never a broken channel.
TEST(MessageDecoder, JsonThatIsNoCommandIsTheAppsOwnMessage) {
    protocol::IncomingMessage out;
    protocol::MessageDecoder worker_side;  // reading vhostd, which sends only commands
    worker_side.feed("\"hello\"\n");
    EXPECT_EQ(worker_side.next(out), Status::error);

    protocol::MessageDecoder decoder;
    decoder.accept_app_messages();
    decoder.feed("\"hello\"\n{\"type\":\"hello\"}\n[1,2]\n{\"cmd\":7}\n{\"cmd\":\"vhostd:ready\"}\n");
    for (const char* expected : {R"("hello")", R"({"type":"hello"})", "[1,2]", R"({"cmd":7})"}) {
        ASSERT_EQ(decoder.next(out), Status::message) << expected;
        ASSERT_TRUE(out.app) << expected;
        EXPECT_EQ(boost::json::serialize(*out.app), expected);
        EXPECT_TRUE(out.message.empty());
    }
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_FALSE(out.app) << "a command is not the app's";
    EXPECT_EQ(protocol::command_of(out.message), "vhostd:ready");

    // JSON.stringify output Boost.JSON does not read is still the app's, not a broken channel.
    protocol::MessageDecoder unreadable;
    unreadable.accept_app_messages();
    unreadable.feed(std::string(2000, '[') + std::string(2000, ']') + "\n" +
                    R"(["\ud83d", "\\ud83d", "\ud83d\ude00", "\udc00x"])" "\n{\"cmd\":\"vhostd:ready\"}\n");
    ASSERT_EQ(unreadable.next(out), Status::message);
    EXPECT_TRUE(out.unreadable_app) << "nested too deep to pass on";
    EXPECT_FALSE(out.app);
    // A cut emoji, as JSON.stringify writes it: a lone surrogate reads as U+FFFD.
    ASSERT_EQ(unreadable.next(out), Status::message);
    ASSERT_TRUE(out.app);
    EXPECT_EQ(boost::json::serialize(*out.app), "[\"\xEF\xBF\xBD\",\"\\\\ud83d\",\"\xF0\x9F\x98\x80\",\"\xEF\xBF\xBDx\"]");
    ASSERT_EQ(unreadable.next(out), Status::message);
    EXPECT_FALSE(out.unreadable_app);
    EXPECT_EQ(protocol::command_of(out.message), "vhostd:ready");

    protocol::MessageDecoder garbage;
    garbage.accept_app_messages();
    garbage.feed("not json\n");
    EXPECT_EQ(garbage.next(out), Status::error) << "what is not JSON still breaks the channel";
}

TEST(MessageDecoder, WithoutFdsAHandleComesAlone) {
    protocol::IncomingMessage out;
    protocol::MessageDecoder decoder;
    decoder.expect_no_fds();
    decoder.feed(protocol::encode_handle({}));
    ASSERT_EQ(decoder.next(out), Status::message);
    EXPECT_EQ(protocol::command_of(out.message), "NODE_HANDLE");
    EXPECT_FALSE(out.fd);
}

TEST(MessageDecoder, ClosesFdsLeftAtTheEnd) {
    const int fd = open_fd();
    {
        protocol::MessageDecoder decoder;
        decoder.feed("{\"cmd\":\"NODE_HA", std::vector<int>{fd});
        EXPECT_TRUE(is_open(fd));
    }
    EXPECT_FALSE(is_open(fd));
}
