// The connection reactor's epoll interest (SRV-12's back-pressure): a connection whose reading
// was paused while it had answers waiting for a slow client must be read again once resumed.
// A forwarding reactor pauses a sender whose worker queue is full; the bug this pins down left
// such a client's requests unread forever (the PROCESS slow-reader test then saw no refusal).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "procspec/event_loop.h"
#include "procspec/timer.h"
#include "procspec/unique_fd.h"
#include "server/reactor.h"
#include "support/leak_check.h"

namespace procspec::detail {
namespace {

class Recorder final : public ConnectionEvents {
 public:
  void on_connect(Connection&) override {}
  void on_packet(Connection& conn, std::string_view packet) override {
    packets.emplace_back(packet);
    session = conn.session_id;
    if (on_first && packets.size() == 1) on_first(conn);
  }
  void on_close(Connection&) override {}

  std::vector<std::string> packets;
  std::uint64_t session = 0;
  std::function<void(Connection&)> on_first;
};

UniqueFd listen_loopback(int& port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(fd.get(), 8), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

UniqueFd connect_loopback(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

class ReactorInterest : public test::LeakCheckedTest {};

// spec: SRV-12
TEST_F(ReactorInterest, SRV12_ReadingPausedWithAnswersPendingResumesWhenAsked) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop);
  auto count = ConnectionCount::create_shared();
  ASSERT_TRUE(count);
  Recorder events;
  ReactorOptions options;
  options.output_buffer_size = 64u << 20;
  std::optional<Reactor> reactor;
  reactor.emplace(**loop, options, events, *count);
  int port = 0;
  UniqueFd listener = listen_loopback(port);
  ASSERT_TRUE(reactor->listen_on(listener.get()));
  UniqueFd client = connect_loopback(port);

  // The first request gets an answer far larger than the socket buffers (the client does not
  // read), so answers stay pending; then reading is paused, as back-pressure does.
  events.on_first = [&](Connection& conn) {
    ASSERT_TRUE(reactor->send(conn.session_id, std::string(16u << 20, 'a')));
    reactor->pause_reading(conn.session_id);
  };
  bool second_sent = false;
  auto step = Timer::tick(10, [&](TimerId) {
    if (events.packets.size() == 1 && !second_sent) {
      reactor->resume_reading(events.session);
      ASSERT_EQ(::send(client.get(), "second", 6, MSG_NOSIGNAL), 6);
      second_sent = true;
    }
    if (events.packets.size() >= 2) (*loop)->stop();
  });
  ASSERT_TRUE(step);
  auto bound = Timer::after(10000, [&] { (*loop)->stop(); });  // the bug made this the exit
  ASSERT_TRUE(bound);
  ASSERT_EQ(::send(client.get(), "first", 5, MSG_NOSIGNAL), 5);
  ASSERT_TRUE((*loop)->run());
  (void)Timer::clear(*step);
  (void)Timer::clear(*bound);
  ASSERT_GE(events.packets.size(), 2u) << "the resumed connection was never read again";
  EXPECT_EQ(events.packets[0], "first");
  EXPECT_EQ(events.packets[1], "second");
  reactor.reset();
}

}  // namespace
}  // namespace procspec::detail
