// make_channels(): option checks, the name table of the `ipc` setting, and the shared socketpair.
#include "procspec/channel.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <limits>

#include "ipc/channels.h"
#include "ipc/chunking.h"

namespace procspec {
namespace {

constexpr std::size_t kMaxChunkSize = 16 * 1024 * 1024;
constexpr std::size_t kMinChunkSize = 64;  // header + 40 bytes: small only so tests can chunk a lot
constexpr std::size_t kMaxPairs = 16384;   // sysvmsg: mtypes 2w+1 and 2w+2 stay far inside long
constexpr std::size_t kMinRingSize = 4096;
constexpr std::size_t kMaxRingSize = std::size_t{1} << 30;

Result<ChannelPair> make_pair_of(ChannelType type, const ChannelOptions& options) {
  switch (type) {
    case ChannelType::uds_dgram: return detail::make_uds_dgram_pair(options);
    case ChannelType::uds_stream: return detail::make_uds_stream_pair(options);
    case ChannelType::thread: return detail::make_thread_pair(options);
    case ChannelType::uds_batch: return detail::make_uds_batch_pair(options);
    case ChannelType::shm_ring: return detail::make_shm_ring_pair(options);
    case ChannelType::sysvmsg: break;
  }
  return fail(errc::invalid_argument, "make_pair_of: no single-pair maker for this type");
}

Status check_options(std::size_t count, const ChannelOptions& o) {
  if (count == 0 || count > kMaxPairs) {
    return fail(errc::invalid_setting, "channel count " + std::to_string(count) + " is outside 1.." +
                                           std::to_string(kMaxPairs));
  }
  if (o.max_length == 0 || o.max_length > std::numeric_limits<std::uint32_t>::max()) {
    return fail(errc::invalid_setting, "max_length " + std::to_string(o.max_length) + " is outside 1.." +
                                           std::to_string(std::numeric_limits<std::uint32_t>::max()));
  }
  if (o.chunk_size < kMinChunkSize || o.chunk_size > kMaxChunkSize) {
    return fail(errc::invalid_setting, "chunk_size " + std::to_string(o.chunk_size) + " is outside " +
                                           std::to_string(kMinChunkSize) + ".." + std::to_string(kMaxChunkSize));
  }
  if (o.socket_buffer_size < 0) {
    return fail(errc::invalid_setting, "socket_buffer_size " + std::to_string(o.socket_buffer_size) +
                                           " is negative");
  }
  if (o.queue_capacity == 0) return fail(errc::invalid_setting, "queue_capacity 0 must be at least 1");
  if (o.ring_size < kMinRingSize || o.ring_size > kMaxRingSize || (o.ring_size & (o.ring_size - 1)) != 0) {
    return fail(errc::invalid_setting, "ring_size " + std::to_string(o.ring_size) + " is not a power of two in " +
                                           std::to_string(kMinRingSize) + ".." + std::to_string(kMaxRingSize));
  }
  return {};
}

}  // namespace

Result<std::vector<ChannelPair>> make_channels(ChannelType type, std::size_t count, const ChannelOptions& options) {
  if (auto ok = check_options(count, options); !ok) return forward_error(std::move(ok).error());
  if (type == ChannelType::sysvmsg) return detail::make_sysv_pairs(count, options);
  std::vector<ChannelPair> pairs;
  pairs.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    Result<ChannelPair> pair = make_pair_of(type, options);
    if (!pair) return forward_error(std::move(pair).error());
    pairs.push_back(std::move(pair).value());
  }
  return pairs;
}

Result<ChannelPair> make_channel(ChannelType type, const ChannelOptions& options) {
  auto pairs = make_channels(type, 1, options);
  if (!pairs) return forward_error(std::move(pairs).error());
  return std::move(pairs->front());
}

Result<ChannelType> parse_channel_type(std::string_view name) {
  if (name == "uds_dgram" || name == "uds-dgram") return ChannelType::uds_dgram;
  if (name == "uds_stream" || name == "uds-stream") return ChannelType::uds_stream;
  if (name == "sysvmsg") return ChannelType::sysvmsg;
  if (name == "thread") return ChannelType::thread;
  if (name == "uds_batch" || name == "uds-batch") return ChannelType::uds_batch;
  if (name == "shm_ring" || name == "shm-ring") return ChannelType::shm_ring;
  return fail(errc::invalid_setting, "ipc '" + std::string(name) +
                                         "' is not one of uds_dgram, uds_stream, sysvmsg, thread, uds_batch, shm_ring");
}

std::string_view channel_type_name(ChannelType type) noexcept {
  switch (type) {
    case ChannelType::uds_dgram: return "uds_dgram";
    case ChannelType::uds_stream: return "uds_stream";
    case ChannelType::sysvmsg: return "sysvmsg";
    case ChannelType::thread: return "thread";
    case ChannelType::uds_batch: return "uds_batch";
    case ChannelType::shm_ring: return "shm_ring";
  }
  return "unknown";
}

bool would_block(const Error& error) noexcept {
  return error.code == std::errc::resource_unavailable_try_again;
}

namespace detail {

Result<std::pair<UniqueFd, UniqueFd>> make_unix_socketpair(int type, int buffer_size) {
  int fds[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) return sys_fail(errno, "socketpair(AF_UNIX)");
  std::pair<UniqueFd, UniqueFd> pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (buffer_size > 0) {
    for (int fd : fds) {
      // The kernel caps these at wmem_max/rmem_max without an error, as it does for Swoole's 8 MiB.
      if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_size, sizeof buffer_size) != 0 ||
          ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof buffer_size) != 0) {
        return sys_fail(errno, "setsockopt(SO_SNDBUF/SO_RCVBUF)");
      }
    }
  }
  return pair;
}

}  // namespace detail
}  // namespace procspec
