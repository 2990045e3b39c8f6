#pragma once
// The makers behind make_channels(), one per implementation file.
#include <cstddef>
#include <utility>
#include <vector>

#include "procspec/channel.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

Result<ChannelPair> make_uds_dgram_pair(const ChannelOptions& options);
Result<ChannelPair> make_uds_stream_pair(const ChannelOptions& options);
Result<ChannelPair> make_thread_pair(const ChannelOptions& options);
Result<ChannelPair> make_uds_batch_pair(const ChannelOptions& options);
Result<ChannelPair> make_shm_ring_pair(const ChannelOptions& options);
// One queue per direction for all `count` pairs; removed when the creating process drops its last endpoint.
Result<std::vector<ChannelPair>> make_sysv_pairs(std::size_t count, const ChannelOptions& options);

// socketpair(AF_UNIX, type | SOCK_CLOEXEC) with SO_SNDBUF/SO_RCVBUF set when buffer_size > 0.
Result<std::pair<UniqueFd, UniqueFd>> make_unix_socketpair(int type, int buffer_size);

}  // namespace procspec::detail
