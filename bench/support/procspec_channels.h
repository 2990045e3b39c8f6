#pragma once
// procspec's own channels (procspec/channel.h, IPC-1) in raw_channels.h's shape, so the same
// driver measures them beside the raw mechanisms: BM_UdsDgram_OneWay/1024 next to
// BM_UdsDgram_OneWay_Raw/1024. Side a holds the reactor endpoint, side b the worker endpoint.
// Compiled only when the channel header exists (ipc_bench.cc checks with __has_include).
#include <poll.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "procspec/channel.h"
#include "procspec/result.h"
#include "support/raw_channels.h"

namespace procspec::bench {

template <ChannelType kType>
class ProcspecChannel {
 public:
  static constexpr bool kInProcess = kType == ChannelType::thread;
  // uds_batch is driven as an event loop drives it: non-blocking endpoints, sends coalesce until
  // the side next waits for input (recv flushes first) or the driver calls flush().
  static constexpr bool kEventLoop = kType == ChannelType::uds_batch;
  // The channels chunk messages above the kernel's limits themselves, so every size runs.
  static std::size_t max_message() { return std::size_t{1} << 20; }

  static Result<ProcspecChannel> open(std::size_t size) {
    ChannelOptions options;
    options.max_length = size < 64 ? 64 : size;
    auto pair = make_channel(kType, options);
    if (!pair) return forward_error(std::move(pair).error());
    if (kEventLoop) {
      pair->reactor->set_nonblocking(true);
      pair->worker->set_nonblocking(true);
    }
    return ProcspecChannel(std::move(*pair));
  }

  // After the fork each process drops the other's endpoint (safe in either process).
  void keep(Side s) noexcept { (s == Side::a ? pair_.worker : pair_.reactor).reset(); }

  // The benchmark side learns the forked peer's pid: datagram and SysV channels cannot see a
  // peer die by themselves (watch_peer turns its death into peer_closed).
  void peer_started(pid_t pid) noexcept {
    if (pair_.reactor) (void)pair_.reactor->watch_peer(pid);
  }

  Status send(Side from, std::span<const std::byte> msg) noexcept {
    const std::string_view bytes(reinterpret_cast<const char*>(msg.data()), msg.size());
    Channel& ch = endpoint(from);
    for (;;) {
      auto st = ch.send(MessageHeader{}, bytes);
      if (!kEventLoop || st || !would_block(st.error())) return st;
      wait(ch.writable_target());
      if (auto f = ch.flush(); !f && !would_block(f.error())) return f;
    }
  }

  // The end of an event-loop turn: everything buffered goes out.
  Status flush(Side s) noexcept {
    Channel& ch = endpoint(s);
    while (ch.has_pending()) {
      auto st = ch.flush();
      if (!st && !would_block(st.error())) return st;
      if (!st) wait(ch.writable_target());
    }
    return {};
  }

  Result<std::span<const std::byte>> recv(Side at) noexcept {
    if (kEventLoop) {
      if (auto st = flush(at); !st) return forward_error(std::move(st).error());
    }
    auto m = endpoint(at).receive();
    while (kEventLoop && !m && would_block(m.error())) {
      wait(endpoint(at).readable_target());
      m = endpoint(at).receive();
    }
    if (!m) return forward_error(std::move(m).error());
    std::string& last = last_[at == Side::a ? 0 : 1];
    last = std::move(m->payload);
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(last.data()), last.size());
  }

  // In-process only, on the error path: dropping the benchmark side's endpoint makes the
  // peer thread's blocked call return peer_closed.
  void unblock() noexcept { pair_.reactor.reset(); }

 private:
  explicit ProcspecChannel(ChannelPair pair) : pair_(std::move(pair)) {}
  static void wait(const PollTarget& t) noexcept {
    pollfd p{t.fd, static_cast<short>(t.events), 0};
    (void)::poll(&p, 1, 1000);
  }
  Channel& endpoint(Side s) noexcept { return s == Side::a ? *pair_.reactor : *pair_.worker; }

  ChannelPair pair_;
  std::array<std::string, 2> last_;
};

}  // namespace procspec::bench
