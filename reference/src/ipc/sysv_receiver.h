#pragma once
// The SysV queue shared by a set of sysvmsg channels, and the receiver thread that turns a
// queue (which has no fd) into something epoll can wait on. See sysv_channel.cc.
#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "procspec/channel.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

// Wake-up datagrams (WireHeader.chunk == kWake) say why in WireHeader.flags.
inline constexpr std::uint8_t kWakeStop = 1;    // a receiver thread is being stopped
inline constexpr std::uint8_t kWakeExited = 2;  // the peer exited (session_id = generation)

struct SysvQueue {
  SysvQueue(int queue_id, pid_t creator_pid, std::size_t max_message)
      : id(queue_id), creator(creator_pid), msgmax(max_message) {}
  ~SysvQueue();  // IPC_RMID, in the creating process only (children drop their copies freely)
  SysvQueue(const SysvQueue&) = delete;
  SysvQueue& operator=(const SysvQueue&) = delete;

  // msgsnd of `buffer` = [long mtype][size bytes]; 0 or errno (EAGAIN only when !wait).
  static int send(int id, const char* buffer, std::size_t size, bool wait) noexcept;
  static int send_wake(int id, long mtype, std::uint8_t why, std::uint64_t generation) noexcept;

  const int id;
  const pid_t creator;
  const std::size_t msgmax;
};

class SysvReceiver {
 public:
  static Result<std::unique_ptr<SysvReceiver>> start(std::shared_ptr<SysvQueue> queue, long mtype,
                                                     std::size_t capacity);
  ~SysvReceiver();
  SysvReceiver(const SysvReceiver&) = delete;
  SysvReceiver& operator=(const SysvReceiver&) = delete;

  PollTarget readable_target() const noexcept;
  // The next datagram (valid until the next pop); EAGAIN when !wait and none is there;
  // peer_closed once the queue is gone.
  Result<std::string_view> pop(bool wait);

 private:
  SysvReceiver(std::shared_ptr<SysvQueue> queue, long mtype, std::size_t capacity, UniqueFd ready);
  void run(std::stop_token stop);
  void sync() noexcept;  // mu_ held

  std::shared_ptr<SysvQueue> queue_;
  const long mtype_;
  const std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::string> items_;
  std::optional<Error> end_;
  UniqueFd ready_;  // eventfd: readable while items_ is non-empty or end_ is set
  bool ready_on_ = false;
  std::string current_;
  pid_t pid_;
  std::unique_ptr<std::jthread> thread_;
};

}  // namespace procspec::detail
