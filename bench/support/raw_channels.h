#pragma once
// The raw mechanisms the IPC benchmarks measure, each behind the same small shape so one
// benchmark driver (ipc_bench.cc) serves them all, and procspec's own channels slot in beside
// them later with the same five members:
//
//   static constexpr bool kInProcess;          // peer is a thread (true) or a forked process
//   static std::size_t max_message();          // the kernel's limit for one message, read now
//   static Result<X> open(std::size_t size);   // both directions, before the fork
//   void keep(Side) noexcept;                  // after the fork: drop the other side's ends
//   Status send(Side from, std::span<const std::byte>) noexcept;
//   Result<std::span<const std::byte>> recv(Side at) noexcept;  // view valid until next recv
//   void unblock() noexcept;                   // in-process only: release blocked calls
//
// Side a is the benchmark thread, side b the peer. Each side receives into a buffer of its own.
#include <mqueue.h>

#include <cstddef>
#include <span>
#include <vector>

#include "procspec/result.h"
#include "procspec/unique_fd.h"

namespace procspec::bench {

enum class Side { a, b };

// A number from /proc (e.g. "/proc/sys/kernel/msgmax"); `fallback` if unreadable.
std::size_t read_proc_size(const char* path, std::size_t fallback);

// Per-side receive buffers.
class RecvBuffers {
 public:
  explicit RecvBuffers(std::size_t size) : a_(size), b_(size) {}
  std::span<std::byte> at(Side s) noexcept { return s == Side::a ? std::span(a_) : std::span(b_); }

 private:
  std::vector<std::byte> a_, b_;
};

// One socketpair carries both directions: SOCK_STREAM (messages are fixed-size, read exactly),
// SOCK_DGRAM and SOCK_SEQPACKET (one message per call; longer ones are caught, not truncated).
class SocketPairChannel {
 public:
  static constexpr bool kInProcess = false;
  static Result<SocketPairChannel> open_type(int type, std::size_t size);
  void keep(Side s) noexcept;
  Status send(Side from, std::span<const std::byte> msg) noexcept;
  Result<std::span<const std::byte>> recv(Side at) noexcept;
  void unblock() noexcept {}

 private:
  SocketPairChannel(int type, std::size_t size, UniqueFd a, UniqueFd b);
  int fd(Side s) const noexcept { return s == Side::a ? a_.get() : b_.get(); }
  int type_;
  std::size_t size_;
  UniqueFd a_, b_;
  RecvBuffers buf_;
};

template <int kType>
class SocketChannel : public SocketPairChannel {
 public:
  static std::size_t max_message();
  static Result<SocketChannel> open(std::size_t size) {
    auto ch = open_type(kType, size);
    if (!ch) return forward_error(std::move(ch).error());
    return SocketChannel(std::move(*ch));
  }

 private:
  explicit SocketChannel(SocketPairChannel&& c) : SocketPairChannel(std::move(c)) {}
};

// Two pipes, one per direction; a byte stream, so fixed-size messages are read exactly.
class PipeChannel {
 public:
  static constexpr bool kInProcess = false;
  static std::size_t max_message();
  static Result<PipeChannel> open(std::size_t size);
  void keep(Side s) noexcept;
  Status send(Side from, std::span<const std::byte> msg) noexcept;
  Result<std::span<const std::byte>> recv(Side at) noexcept;
  void unblock() noexcept {}

 private:
  PipeChannel(std::size_t size, UniqueFd fds[4]);
  UniqueFd ab_read_, ab_write_, ba_read_, ba_write_;
  RecvBuffers buf_;
};

// One private SysV queue; mtype 1 carries a→b, mtype 2 carries b→a. Removed (IPC_RMID) by the
// side that created it, when it is destroyed.
class SysvMsgChannel {
 public:
  static constexpr bool kInProcess = false;
  static std::size_t max_message();  // msgmax
  static Result<SysvMsgChannel> open(std::size_t size);
  SysvMsgChannel(SysvMsgChannel&& other) noexcept;
  SysvMsgChannel& operator=(SysvMsgChannel&&) = delete;
  ~SysvMsgChannel();
  void keep(Side s) noexcept;
  Status send(Side from, std::span<const std::byte> msg) noexcept;
  Result<std::span<const std::byte>> recv(Side at) noexcept;
  void unblock() noexcept {}

 private:
  SysvMsgChannel(int id, std::size_t size);
  int id_;
  bool owner_ = true;
  std::size_t size_;
  std::vector<std::byte> send_buf_;  // mtype + text, as msgsnd wants them
  std::vector<std::byte> recv_a_, recv_b_;
};

// Two POSIX message queues, unlinked right after mq_open (nothing to leak if we crash).
class PosixMqChannel {
 public:
  static constexpr bool kInProcess = false;
  static std::size_t max_message();  // /proc/sys/fs/mqueue/msgsize_max
  static Result<PosixMqChannel> open(std::size_t size);
  PosixMqChannel(PosixMqChannel&& other) noexcept;
  PosixMqChannel& operator=(PosixMqChannel&&) = delete;
  ~PosixMqChannel();
  void keep(Side) noexcept {}
  Status send(Side from, std::span<const std::byte> msg) noexcept;
  Result<std::span<const std::byte>> recv(Side at) noexcept;
  void unblock() noexcept {}

 private:
  PosixMqChannel(mqd_t ab, mqd_t ba, std::size_t size);
  mqd_t ab_, ba_;
  std::size_t size_;
  RecvBuffers buf_;
};

}  // namespace procspec::bench
