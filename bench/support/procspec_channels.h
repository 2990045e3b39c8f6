#pragma once
// procspec's own channels (procspec/channel.h, IPC-1) in raw_channels.h's shape, so the same
// driver measures them beside the raw mechanisms: BM_UdsDgram_OneWay/1024 next to
// BM_UdsDgram_OneWay_Raw/1024. Side a holds the reactor endpoint, side b the worker endpoint.
// Compiled only when the channel header exists (ipc_bench.cc checks with __has_include).
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
  // The channels chunk messages above the kernel's limits themselves, so every size runs.
  static std::size_t max_message() { return std::size_t{1} << 20; }

  static Result<ProcspecChannel> open(std::size_t size) {
    ChannelOptions options;
    options.max_length = size < 64 ? 64 : size;
    auto pair = make_channel(kType, options);
    if (!pair) return forward_error(std::move(pair).error());
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
    return endpoint(from).send(MessageHeader{}, bytes);
  }

  Result<std::span<const std::byte>> recv(Side at) noexcept {
    auto m = endpoint(at).receive();
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
  Channel& endpoint(Side s) noexcept { return s == Side::a ? *pair_.reactor : *pair_.worker; }

  ChannelPair pair_;
  std::array<std::string, 2> last_;
};

}  // namespace procspec::bench
