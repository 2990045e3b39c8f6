// SysV message queue channel (IPC-1, Swoole's msgqueue mode): one private queue (0600) per
// direction, shared by all workers; mtype w+1 selects worker w. Messages above msgmax travel as
// chunks (SRV-PROC-4's scheme). A queue is removed by the process that created it when its last
// endpoint there is dropped.
// Why two queues and not one: a queue's msgmnb bytes (16 KiB by default) are shared by every
// message in it. With both directions in one queue, a reactor blocked sending a large request
// fills it, the worker can no longer send the response the reactor is waiting for, and the two
// block each other forever. Per direction, a sender only ever waits for the other side's reader.
// Workers still share a direction's bytes: one slow worker can hold up sends to the others
// (head-of-line blocking that the socket channels do not have).
//
// A queue has no fd. Two ways to receive:
//   - direct: receive() calls msgrcv itself (blocking or IPC_NOWAIT) — the fast path;
//   - via a receiver thread, started the first time readable_target() is asked for (a reactor
//     putting the channel into epoll, or a blocking receive() that also watches the peer): the
//     thread blocks in msgrcv and hands datagrams to receive() through a bounded queue whose
//     eventfd is the readable target. The bound keeps IPC-2 backpressure: once it is full the
//     kernel queue fills and senders block or get EAGAIN.
// A queue cannot tell that a peer died. With watch_peer(pid), a receiver that sees the pid exit
// puts an "exited" marker behind the peer's last message in its own mtype; meeting the marker
// is the end (peer_closed). Without watch_peer the owner learns of a worker's death from
// SIGCHLD (the manager) and calls reset()/watch_peer for the replacement, which consumes what
// is still queued for the dead worker (as Swoole's replacement workers do).
// No writable_target: msgsnd has no readiness signal; a non-blocking sender that got EAGAIN
// retries flush() on a timer.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

#include "ipc/channels.h"
#include "ipc/datagram_channel.h"
#include "ipc/sysv_receiver.h"
#include "procspec/log.h"

namespace procspec::detail {
namespace {

std::size_t read_msgmax() {
  std::ifstream in("/proc/sys/kernel/msgmax");
  std::size_t v = 0;
  if (in >> v && v > kWireHeaderSize) return v;
  return 8192;  // the Linux default
}

class SysvChannel final : public DatagramChannel {
 public:
  SysvChannel(std::shared_ptr<SysvQueue> send_queue, std::shared_ptr<SysvQueue> recv_queue, long mtype,
              const ChannelOptions& options)
      : DatagramChannel(ChannelType::sysvmsg, options, "sysvmsg",
                        options.chunk_size < send_queue->msgmax ? options.chunk_size : send_queue->msgmax),
        send_queue_(std::move(send_queue)),
        queue_(std::move(recv_queue)),
        send_type_(mtype),
        recv_type_(mtype),
        capacity_(options.queue_capacity),
        out_(sizeof(long) + send_queue_->msgmax, '\0'),
        in_(sizeof(long) + queue_->msgmax, '\0') {}

  PollTarget readable_target() override {
    if (!receiver_) {
      auto r = SysvReceiver::start(queue_, recv_type_, capacity_);
      if (!r) {
        log_error(r.error().message);
        return {};
      }
      receiver_ = std::move(r).value();
    }
    return receiver_->readable_target();
  }
  PollTarget writable_target() override { return {}; }

  Status reset() override {
    ++generation_;
    marker_sent_ = false;
    return DatagramChannel::reset();
  }

 private:
  int write_datagram(const WireHeader& header, std::string_view slice, bool wait) override {
    std::memcpy(out_.data(), &send_type_, sizeof(long));
    std::memcpy(out_.data() + sizeof(long), &header, sizeof header);
    if (!slice.empty()) std::memcpy(out_.data() + sizeof(long) + sizeof header, slice.data(), slice.size());
    return SysvQueue::send(send_queue_->id, out_.data(), sizeof header + slice.size(), wait);
  }

  Result<std::string_view> read_datagram(bool wait) override {
    for (;;) {
      Result<std::string_view> d = receiver_ ? receiver_->pop(wait) : read_direct(wait);
      if (!d) return d;
      if (d->size() < kWireHeaderSize) {
        return fail(errc::frame_invalid, "sysvmsg: message of " + std::to_string(d->size()) + " bytes has no header");
      }
      const WireHeader w = read_wire_header(d->data());
      if (w.chunk != kWake) return d;
      if (w.flags == kWakeExited && w.session_id == generation_) {
        return fail(errc::peer_closed, "sysvmsg: the peer process exited and everything it sent was received");
      }
      // A stale wake-up (a stopped receiver thread's, or an older generation's marker): skip.
    }
  }

  Result<std::string_view> read_direct(bool wait) {
    for (;;) {
      const ssize_t n = ::msgrcv(queue_->id, in_.data(), queue_->msgmax, recv_type_, wait ? 0 : IPC_NOWAIT);
      if (n >= 0) {
        return std::string_view(in_.data() + sizeof(long), static_cast<std::size_t>(n));
      }
      if (errno == EINTR) continue;
      if (errno == ENOMSG) return sys_fail(EAGAIN, "sysvmsg: msgrcv");
      if (errno == EIDRM || errno == EINVAL) return fail(errc::peer_closed, "sysvmsg: the queue was removed");
      return sys_fail(errno, "sysvmsg: msgrcv");
    }
  }

  bool drained_after_peer_exit() override {
    // Direct reads saw the kernel queue empty for our mtype: nothing more can come.
    if (!receiver_) return true;
    // The receiver thread may hold a datagram in flight; a marker behind it ends the stream in order.
    if (!marker_sent_) {
      const int err = SysvQueue::send_wake(queue_->id, recv_type_, kWakeExited, generation_);
      marker_sent_ = err == 0;
      if (err == EIDRM || err == EINVAL) return true;
    }
    return false;
  }

  std::shared_ptr<SysvQueue> send_queue_;
  std::shared_ptr<SysvQueue> queue_;  // the one we receive from
  long send_type_;
  long recv_type_;
  std::size_t capacity_;
  std::string out_;
  std::string in_;
  std::unique_ptr<SysvReceiver> receiver_;
  std::uint64_t generation_ = 0;
  bool marker_sent_ = false;
};

Result<std::shared_ptr<SysvQueue>> make_queue() {
  const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (id < 0) return sys_fail(errno, "sysvmsg: msgget(IPC_PRIVATE)");
  return std::make_shared<SysvQueue>(id, ::getpid(), read_msgmax());
}

}  // namespace

Result<std::vector<ChannelPair>> make_sysv_pairs(std::size_t count, const ChannelOptions& options) {
  auto to_workers = make_queue();
  if (!to_workers) return forward_error(std::move(to_workers).error());
  auto to_reactor = make_queue();
  if (!to_reactor) return forward_error(std::move(to_reactor).error());
  std::vector<ChannelPair> pairs;
  pairs.reserve(count);
  for (std::size_t w = 0; w < count; ++w) {
    const long mtype = static_cast<long>(w + 1);
    ChannelPair pair;
    pair.reactor = std::make_unique<SysvChannel>(*to_workers, *to_reactor, mtype, options);
    pair.worker = std::make_unique<SysvChannel>(*to_reactor, *to_workers, mtype, options);
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

}  // namespace procspec::detail
