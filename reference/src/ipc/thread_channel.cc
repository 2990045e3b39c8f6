// In-process channel for THREAD mode (IPC-1): a bounded queue per direction under a mutex, with
// condition variables for blocking calls. The eventfds that let a reactor put the channel in
// epoll are kept in step only once someone asked for them (readable_target/writable_target),
// so a pair of threads that only block costs no syscalls beyond the futex.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "ipc/channels.h"
#include "ipc/chunking.h"

namespace procspec::detail {
namespace {

// An eventfd that is readable exactly while `set(true)` is in force. Callers hold the queue's
// mutex, so the state and the fd never disagree.
class Flag {
 public:
  Status open() {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return sys_fail(errno, "thread channel: eventfd");
    fd_.reset(fd);
    return {};
  }
  int fd() const noexcept { return fd_.get(); }
  void arm(bool state) noexcept {
    armed_ = true;
    set(state);
  }
  void set(bool state) noexcept {
    if (!armed_ || state == on_) return;
    std::uint64_t v = 1;
    // eventfd writes/reads of 8 bytes cannot fail short; EAGAIN cannot happen at counter 0/1.
    ssize_t r = state ? ::write(fd_.get(), &v, sizeof v) : ::read(fd_.get(), &v, sizeof v);
    (void)r;
    on_ = state;
  }

 private:
  UniqueFd fd_;
  bool armed_ = false;
  bool on_ = false;
};

struct Direction {
  std::mutex mu;
  std::condition_variable has_data;
  std::condition_variable has_space;
  std::deque<Message> queue;
  bool sender_gone = false;
  bool receiver_gone = false;
  Flag readable;  // !queue.empty() || sender_gone
  Flag writable;  // queue.size() < capacity || receiver_gone

  void sync(std::size_t capacity) noexcept {
    readable.set(!queue.empty() || sender_gone);
    writable.set(queue.size() < capacity || receiver_gone);
  }
};

struct Shared {
  std::size_t capacity;
  Direction to_worker;
  Direction to_reactor;
};

class ThreadChannel final : public Channel {
 public:
  ThreadChannel(std::shared_ptr<Shared> shared, bool reactor_side, std::size_t max_length)
      : Channel(ChannelType::thread, max_length),
        shared_(std::move(shared)),
        out_(reactor_side ? shared_->to_worker : shared_->to_reactor),
        in_(reactor_side ? shared_->to_reactor : shared_->to_worker) {}

  ~ThreadChannel() override {
    for (Direction* d : {&out_, &in_}) {
      std::lock_guard lock(d->mu);
      (d == &out_ ? d->sender_gone : d->receiver_gone) = true;
      d->sync(shared_->capacity);
      d->has_data.notify_all();
      d->has_space.notify_all();
    }
  }

  Status send(const MessageHeader& header, std::string_view payload) override {
    if (auto ok = check_length("thread", payload.size(), max_length()); !ok) return ok;
    Message message{header, std::string(payload)};
    std::unique_lock lock(out_.mu);
    for (;;) {
      if (out_.receiver_gone) return fail(errc::peer_closed, "thread: the receiving endpoint is gone");
      if (out_.queue.size() < shared_->capacity) break;
      if (nonblocking_) {
        return sys_fail(EAGAIN, "thread: queue full at queue_capacity " + std::to_string(shared_->capacity));
      }
      out_.has_space.wait(lock);
    }
    out_.queue.push_back(std::move(message));
    out_.sync(shared_->capacity);
    lock.unlock();
    out_.has_data.notify_one();
    return {};
  }

  Status flush() override { return {}; }
  bool has_pending() const noexcept override { return false; }

  Result<Message> receive() override {
    std::unique_lock lock(in_.mu);
    for (;;) {
      if (!in_.queue.empty()) break;
      if (in_.sender_gone) return fail(errc::peer_closed, "thread: the sending endpoint is gone and drained");
      if (nonblocking_) return sys_fail(EAGAIN, "thread: receive");
      in_.has_data.wait(lock);
    }
    Message m = std::move(in_.queue.front());
    in_.queue.pop_front();
    in_.sync(shared_->capacity);
    lock.unlock();
    in_.has_space.notify_one();
    return m;
  }

  PollTarget readable_target() override {
    std::lock_guard lock(in_.mu);
    in_.readable.arm(!in_.queue.empty() || in_.sender_gone);
    return {in_.readable.fd(), POLLIN};
  }
  // Readable (not writable) is the event: the eventfd signals "there is room".
  PollTarget writable_target() override {
    std::lock_guard lock(out_.mu);
    out_.writable.arm(out_.queue.size() < shared_->capacity || out_.receiver_gone);
    return {out_.writable.fd(), POLLIN};
  }
  Status watch_peer(pid_t) override { return {}; }  // same process: the peer's destructor tells us
  Status reset() override { return {}; }

 private:
  std::shared_ptr<Shared> shared_;
  Direction& out_;
  Direction& in_;
};

}  // namespace

Result<ChannelPair> make_thread_pair(const ChannelOptions& options) {
  auto shared = std::make_shared<Shared>();
  shared->capacity = options.queue_capacity;
  for (Direction* d : {&shared->to_worker, &shared->to_reactor}) {
    if (auto ok = d->readable.open(); !ok) return forward_error(std::move(ok).error());
    if (auto ok = d->writable.open(); !ok) return forward_error(std::move(ok).error());
  }
  ChannelPair pair;
  pair.reactor = std::make_unique<ThreadChannel>(shared, true, options.max_length);
  pair.worker = std::make_unique<ThreadChannel>(shared, false, options.max_length);
  return pair;
}

}  // namespace procspec::detail
