// IPC mechanisms, raw: what one message costs through each kernel mechanism on this machine,
// with the shared-memory ring as the floor (IPC-3: every payload verified at the receiver).
//
//   BM_<Mechanism>_OneWay_Raw/<bytes>   the peer streams, this thread receives and verifies:
//                                       items/s = messages/s, bytes/s
//   BM_<Mechanism>_PingPong_Raw/<bytes> this thread sends, the peer verifies and echoes back:
//                                       counters p50_us, p99_us, p999_us (round trip)
// Counters per message on both sides: vcsw / ivcsw (voluntary / involuntary context switches)
// and cpu_us; the peer's carry a peer_ prefix. procspec's own channels register beside these
// under the same name without `_Raw` (see ipc_driver.h), so the report pairs them by name.
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/context.h"
#include "support/ipc_driver.h"
#include "support/memory_channels.h"
#include "support/raw_channels.h"
#if __has_include("procspec/channel.h")
#include "support/procspec_channels.h"
#define PROCSPEC_BENCH_HAVE_CHANNELS 1
#endif

namespace procspec::bench {
namespace {

[[maybe_unused]] const bool registered = [] {
  register_channel<SocketChannel<SOCK_STREAM>>("UdsStream", "_Raw");
  register_channel<SocketChannel<SOCK_DGRAM>>("UdsDgram", "_Raw");
  register_channel<SocketChannel<SOCK_SEQPACKET>>("SeqPacket", "_Raw");
  register_channel<PipeChannel>("Pipe", "_Raw");
  register_channel<SysvMsgChannel>("SysvMsg", "_Raw");
  register_channel<PosixMqChannel>("PosixMq", "_Raw");
  register_channel<ThreadQueueChannel>("ThreadQueue", "_Raw");
#ifdef PROCSPEC_BENCH_HAVE_CHANNELS
  // procspec's channels, under the raw mechanism's name without `_Raw` (the report pairs them).
  register_channel<ProcspecChannel<ChannelType::uds_stream>>("UdsStream", "");
  register_channel<ProcspecChannel<ChannelType::uds_dgram>>("UdsDgram", "");
  register_channel<ProcspecChannel<ChannelType::sysvmsg>>("SysvMsg", "");
  register_channel<ProcspecChannel<ChannelType::thread>>("ThreadQueue", "");
  // Beyond Swoole (issue #9): no raw twin; compare UdsBatch with UdsStream_Raw, ShmRingChannel
  // with the ShmRing floor.
  register_channel<ProcspecChannel<ChannelType::uds_batch>>("UdsBatch", "");
  register_channel<ProcspecChannel<ChannelType::shm_ring>>("ShmRingChannel", "");
#endif
  // The floor: the same driver over a shared-memory ring (sleeping waits, eventfd wake-up).
  register_channel<ShmRingChannel<RingWait::sleep>>("ShmRing", "");
  // Busy-polling round trips: the latency floor when each side has a CPU of its own.
  register_channel<ShmRingChannel<RingWait::spin>>("ShmRingSpin", "", Patterns::ping_pong);
  return true;
}();

}  // namespace
}  // namespace procspec::bench

int main(int argc, char** argv) { return procspec::bench::run_main(argc, argv); }
