#include "ipc/sysv_receiver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "ipc/chunking.h"
#include "procspec/log.h"

namespace procspec::detail {

SysvQueue::~SysvQueue() {
  if (::getpid() == creator && ::msgctl(id, IPC_RMID, nullptr) != 0 && errno != EIDRM && errno != EINVAL) {
    log_warn("sysvmsg: msgctl(" + std::to_string(id) + ", IPC_RMID) failed: " + std::strerror(errno));
  }
}

int SysvQueue::send(int id, const char* buffer, std::size_t size, bool wait) noexcept {
  for (;;) {
    if (::msgsnd(id, buffer, size, wait ? 0 : IPC_NOWAIT) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

int SysvQueue::send_wake(int id, long mtype, std::uint8_t why, std::uint64_t generation) noexcept {
  char buffer[sizeof(long) + sizeof(WireHeader)];
  WireHeader w{};
  w.chunk = kWake;
  w.flags = why;
  w.session_id = generation;
  std::memcpy(buffer, &mtype, sizeof mtype);
  std::memcpy(buffer + sizeof mtype, &w, sizeof w);
  return send(id, buffer, sizeof w, false);
}

Result<std::unique_ptr<SysvReceiver>> SysvReceiver::start(std::shared_ptr<SysvQueue> queue, long mtype,
                                                          std::size_t capacity) {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return sys_fail(errno, "sysvmsg: eventfd");
  std::unique_ptr<SysvReceiver> r(new SysvReceiver(std::move(queue), mtype, capacity, UniqueFd(fd)));
  r->thread_ = std::make_unique<std::jthread>([self = r.get()](std::stop_token st) { self->run(st); });
  return r;
}

SysvReceiver::SysvReceiver(std::shared_ptr<SysvQueue> queue, long mtype, std::size_t capacity, UniqueFd ready)
    : queue_(std::move(queue)), mtype_(mtype), capacity_(capacity), ready_(std::move(ready)), pid_(::getpid()) {}

SysvReceiver::~SysvReceiver() {
  if (::getpid() != pid_) {
    // A forked child holds a copy of an object whose thread only exists in the parent:
    // joining would wait forever. Forget the handle on purpose.
    [[maybe_unused]] std::jthread* forgotten = thread_.release();
    return;
  }
  thread_->request_stop();  // wakes the thread if it waits for room
  // If it is blocked in msgrcv, only a message of its mtype wakes it. The queue may be full of
  // other workers' messages for a moment, so retry — bounded: past the bound the queue is
  // wedged and joining would hang, so we say so and forget the thread instead.
  for (int attempt = 0; attempt < 5000; ++attempt) {
    const int err = SysvQueue::send_wake(queue_->id, mtype_, kWakeStop, 0);
    if (err == 0 || err == EIDRM || err == EINVAL) {
      thread_.reset();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  log_error("sysvmsg: could not wake the receiver thread of mtype " + std::to_string(mtype_) +
            " (queue full for 5 s); leaving it blocked");
  [[maybe_unused]] std::jthread* stuck = thread_.release();
}

PollTarget SysvReceiver::readable_target() const noexcept { return {ready_.get(), POLLIN}; }

void SysvReceiver::sync() noexcept {
  const bool on = !items_.empty() || end_.has_value();
  if (on == ready_on_) return;
  std::uint64_t v = 1;
  ssize_t r = on ? ::write(ready_.get(), &v, sizeof v) : ::read(ready_.get(), &v, sizeof v);
  (void)r;
  ready_on_ = on;
}

Result<std::string_view> SysvReceiver::pop(bool wait) {
  std::unique_lock lock(mu_);
  while (items_.empty()) {
    if (end_) return forward_error(*end_);
    if (!wait) return sys_fail(EAGAIN, "sysvmsg: receive");
    cv_.wait(lock);
  }
  current_ = std::move(items_.front());
  items_.pop_front();
  sync();
  lock.unlock();
  cv_.notify_all();
  return std::string_view(current_);
}

void SysvReceiver::run(std::stop_token stop) {
  std::string buffer(sizeof(long) + queue_->msgmax, '\0');
  for (;;) {
    const ssize_t n = ::msgrcv(queue_->id, buffer.data(), queue_->msgmax, mtype_, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      std::lock_guard lock(mu_);
      end_ = (err == EIDRM || err == EINVAL)
                 ? Error{make_error_code(errc::peer_closed), "sysvmsg: the queue was removed"}
                 : Error{std::error_code(err, std::system_category()), "sysvmsg: msgrcv failed"};
      sync();
      cv_.notify_all();
      return;
    }
    const auto size = static_cast<std::size_t>(n);
    std::string datagram(buffer.data() + sizeof(long), size);
    if (size >= kWireHeaderSize) {
      const WireHeader w = read_wire_header(datagram.data());
      if (w.chunk == kWake && w.flags == kWakeStop) {
        if (stop.stop_requested()) return;
        continue;  // another receiver's leftover
      }
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, stop, [&] { return items_.size() < capacity_; });
    if (stop.stop_requested()) return;
    items_.push_back(std::move(datagram));
    sync();
    lock.unlock();
    cv_.notify_all();
  }
}

}  // namespace procspec::detail
