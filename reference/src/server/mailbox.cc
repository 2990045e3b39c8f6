#include "server/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace procspec::detail {

Result<std::unique_ptr<Mailbox>> Mailbox::create() {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) return sys_fail(errno, "eventfd (mailbox)");
  return std::unique_ptr<Mailbox>(new Mailbox(std::move(efd)));
}

Mailbox::~Mailbox() { detach(); }

Status Mailbox::attach(EventLoop& loop) {
  if (auto st = loop.add(efd_.get(), [this] { run_posted(); }); !st) return st;
  loop_ = &loop;
  return {};
}

void Mailbox::detach() {
  if (loop_) (void)loop_->remove(efd_.get());
  loop_ = nullptr;
}

void Mailbox::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  const std::uint64_t one = 1;
  // EAGAIN means the counter is saturated: the owner is already due to wake up.
  while (::write(efd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Mailbox::run_posted() {
  std::uint64_t count = 0;
  while (::read(efd_.get(), &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::vector<Task> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(queue_);
  }
  for (auto& task : tasks) task();
}

}  // namespace procspec::detail
