#include "support/memory_channels.h"

#include <cstring>

namespace procspec::bench {

BoundedQueue::BoundedQueue(std::size_t slots, std::size_t max_message)
    : slots_(slots, std::vector<std::byte>(max_message)), lengths_(slots, 0) {}

Status BoundedQueue::push(std::span<const std::byte> msg) {
  std::unique_lock lock(mu_);
  not_full_.wait(lock, [&] { return closed_ || count_ < slots_.size(); });
  if (closed_) return fail(errc::peer_closed, "thread queue closed");
  const std::size_t i = (head_ + count_) % slots_.size();
  const std::size_t n = msg.size() < slots_[i].size() ? msg.size() : slots_[i].size();
  std::memcpy(slots_[i].data(), msg.data(), n);
  lengths_[i] = n;
  ++count_;
  lock.unlock();
  not_empty_.notify_one();
  return {};
}

Result<std::size_t> BoundedQueue::pop(std::span<std::byte> into) {
  std::unique_lock lock(mu_);
  not_empty_.wait(lock, [&] { return closed_ || count_ > 0; });
  if (count_ == 0) return fail(errc::peer_closed, "thread queue closed");
  const std::size_t n = lengths_[head_] < into.size() ? lengths_[head_] : into.size();
  std::memcpy(into.data(), slots_[head_].data(), n);
  head_ = (head_ + 1) % slots_.size();
  --count_;
  lock.unlock();
  not_full_.notify_one();
  return n;
}

void BoundedQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

std::size_t ThreadQueueChannel::max_message() { return std::size_t{1} << 20; }

ThreadQueueChannel::ThreadQueueChannel(std::size_t size)
    : ab_(std::make_unique<BoundedQueue>(ring_slots(size), size)),
      ba_(std::make_unique<BoundedQueue>(ring_slots(size), size)),
      buf_(size) {}

Result<ThreadQueueChannel> ThreadQueueChannel::open(std::size_t size) { return ThreadQueueChannel(size); }

Status ThreadQueueChannel::send(Side from, std::span<const std::byte> msg) noexcept {
  return (from == Side::a ? ab_ : ba_)->push(msg);
}

Result<std::span<const std::byte>> ThreadQueueChannel::recv(Side at) noexcept {
  auto buf = buf_.at(at);
  auto n = (at == Side::a ? ba_ : ab_)->pop(buf);
  if (!n) return forward_error(std::move(n).error());
  return std::span<const std::byte>(buf.data(), *n);
}

void ThreadQueueChannel::unblock() noexcept {
  ab_->close();
  ba_->close();
}

std::size_t ring_slots(std::size_t size) noexcept {
  std::size_t slots = (256 * 1024) / (size == 0 ? 1 : size);
  return slots < 16 ? 16 : slots;
}

}  // namespace procspec::bench
