// Shared-memory ring channel (IPC-1): per direction an SPSC byte ring in one memfd mapping made
// before fork. A message is the 24-byte WireHeader (chunk = 0) followed by its payload, written
// into the ring as a byte stream that wraps at the end; a message larger than half the ring is
// streamed through in pieces and reassembled by the reader as the pieces arrive.
//
// Waiting (see shm_ring.h): a blocking call spins a bounded, adaptive while, then sleeps on an
// eventfd that the other side writes only when it sees the sleep announced. A non-blocking call
// never spins; before it returns EAGAIN (or after it consumed the last message) it leaves the
// eventfd of readable_target()/writable_target() level-triggered truthful for epoll.
//
// Flow control: the reader wakes a waiting writer once at most half of the ring is in use, so a
// writer that waits for room is woken once per half ring, not once per message. A message of up
// to half the ring is written whole or not at all (EAGAIN); a larger one is written in pieces
// and, when non-blocking, its unwritten tail is held for flush().
//
// Peer death: an endpoint dropped by the last process holding it marks itself gone (same
// process: THREAD mode); a process that dies (SIGKILL, _exit) is seen through watch_peer's
// pidfd. Either way the reader first drains what arrived, then gets peer_closed.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "ipc/channels.h"
#include "ipc/chunking.h"
#include "ipc/peer_watch.h"
#include "ipc/shm_ring.h"

namespace procspec::detail {
namespace {

constexpr auto kSeq = std::memory_order_seq_cst;

class ShmRingChannel final : public Channel {
 public:
  ShmRingChannel(std::shared_ptr<RingMapping> mapping, int side, std::size_t max_length)
      : Channel(ChannelType::shm_ring, max_length),
        m_(std::move(mapping)),
        side_(side),
        out_(m_->control(side)),
        in_(m_->control(1 - side)),
        out_data_(m_->data(side)),
        in_data_(m_->data(1 - side)),
        size_(m_->shared().size),
        reader_(in_.reader_waiting, m_->data_ready(1 - side)),
        writer_(out_.writer_waiting, m_->space_ready(side)) {
    register_ring_endpoint(&m_->shared().refs[side_]);
  }

  ~ShmRingChannel() override {
    RingShared& s = m_->shared();
    unregister_ring_endpoint(&s.refs[side_]);
    if (s.refs[side_].fetch_sub(1, kSeq) != 1) return;  // another process still holds this endpoint
    s.gone[side_].store(1, kSeq);
    wake_if_waiting(out_.reader_waiting, m_->data_ready(side_));
    wake_if_waiting(in_.writer_waiting, m_->space_ready(1 - side_));
  }

  Status send(const MessageHeader& header, std::string_view payload) override {
    if (auto ok = check_length("shm_ring", payload.size(), max_length()); !ok) return ok;
    if (pending_size() > 0) {
      return sys_fail(EAGAIN, "shm_ring: the previous message is still being written; flush() first");
    }
    if (peer_gone_cheap()) return closed_for_send();
    const WireHeader wire = make_wire_header(header, payload.size(), 0);
    const std::string_view head_bytes(reinterpret_cast<const char*>(&wire), sizeof wire);
    const std::uint64_t total = sizeof wire + payload.size();
    if (total > size_ / 2) return stream(head_bytes, payload);
    for (;;) {
      const std::uint64_t head = out_.head.load(std::memory_order_relaxed);
      if (room(head, total) >= total) {
        copy_in(head, head_bytes.data(), head_bytes.size());
        copy_in(head + head_bytes.size(), payload.data(), payload.size());
        publish(head + total);
        return {};
      }
      if (nonblocking_) {
        settle_writable();
        return sys_fail(EAGAIN, "shm_ring: the ring of " + std::to_string(size_) + " bytes is full");
      }
      if (auto ok = wait_writable(); !ok) return ok;
    }
  }

  Status flush() override {
    if (pending_size() == 0) return {};
    const std::string_view rest = std::string_view(pending_).substr(pending_off_);
    Status st = write_stream(rest, {}, true);
    if (!st && !would_block(st.error())) clear_pending();
    return st;
  }

  bool has_pending() const noexcept override { return pending_size() > 0; }

  Result<Message> receive() override {
    for (;;) {
      auto got = take();
      if (!got) return forward_error(std::move(got).error());
      if (*got) {
        in_msg_ = false;
        if (nonblocking_) settle_readable();
        return std::move(msg_);
      }
      if (!nonblocking_ && spin_read_.spin([&] { return data_ready(); })) continue;
      // Checked before the last look at the ring: whatever the peer sent before it died is
      // already there, so "dead and nothing more" really is the end. A blocking call learns of
      // a process's death from the pidfd in its sleep (no extra syscall per sleep).
      const bool dead = nonblocking_ ? peer_gone_checked() : peer_gone_cheap();
      if (dead) {
        got = take();
        if (!got) return forward_error(std::move(got).error());
        if (*got) {
          in_msg_ = false;
          return std::move(msg_);
        }
        peer_dead_.store(true, std::memory_order_relaxed);
        return closed_for_receive();
      }
      if (nonblocking_) {
        settle_readable();
        if (inbound_ready()) continue;
        return sys_fail(EAGAIN, "shm_ring: receive");
      }
      reader_.prepare();
      if (inbound_ready()) continue;
      auto exited = reader_.sleep(peer_);
      if (!exited) return forward_error(std::move(exited).error());
      if (*exited) peer_dead_.store(true, std::memory_order_relaxed);
    }
  }

  // The eventfds signal by becoming readable, also the one that means "there is room".
  PollTarget readable_target() override {
    settle_readable();
    return {reader_.fd(), POLLIN};
  }
  PollTarget writable_target() override {
    settle_writable();
    return {writer_.fd(), POLLIN};
  }

  Status watch_peer(pid_t pid) override { return peer_.watch(pid); }

  // After the peer died, on both ends, while the other side writes nothing (channel.h). Whole
  // messages stay for the replacement; a torn one is dropped: our own half-written tail (the
  // ring's head goes back to where that message began) and the dead writer's half-written last
  // message in the inbound ring (its head goes back to the end of the last whole message). Our
  // wake-up state starts over; the peer counts as alive again.
  Status reset() override {
    if (pending_size() > 0) {
      out_.head.store(std::max(pending_start_, out_.tail.load(kSeq)), kSeq);
      clear_pending();
    }
    std::uint64_t tail = in_.tail.load(kSeq);
    const std::uint64_t head = in_.head.load(kSeq);
    if (in_msg_) {  // a message we had begun to take: drop its rest, whole or not
      tail += std::min<std::uint64_t>(need_, head - tail);
      in_.tail.store(tail, kSeq);
      in_msg_ = false;
      msg_ = Message{};
    }
    std::uint64_t end = tail;
    while (head - end >= sizeof(WireHeader)) {
      WireHeader wire;
      copy_out(end, reinterpret_cast<char*>(&wire), sizeof wire);
      if (head - end - sizeof wire < wire.length) break;
      end += sizeof wire + wire.length;
    }
    if (end != head) in_.head.store(end, kSeq);
    cached_head_ = end;
    cached_tail_ = out_.tail.load(kSeq);
    peer_.clear();
    peer_dead_.store(false, std::memory_order_relaxed);
    m_->shared().gone[1 - side_].store(0, kSeq);
    reader_.clear();
    writer_.clear();
    return {};
  }

 private:
  // --- writing ---------------------------------------------------------------------------

  // Free bytes, reloading the reader's position only when the cached one says `want` won't fit.
  std::uint64_t room(std::uint64_t head, std::uint64_t want) noexcept {
    if (head - cached_tail_ + want > size_) cached_tail_ = out_.tail.load(kSeq);
    return size_ - (head - cached_tail_);
  }

  void copy_in(std::uint64_t pos, const char* src, std::size_t n) noexcept {
    const std::size_t off = static_cast<std::size_t>(pos & (size_ - 1));
    const std::size_t first = std::min<std::size_t>(n, static_cast<std::size_t>(size_) - off);
    if (first > 0) std::memcpy(out_data_ + off, src, first);
    if (n > first) std::memcpy(out_data_, src + first, n - first);
  }

  void publish(std::uint64_t new_head) noexcept {
    out_.head.store(new_head, kSeq);
    wake_if_waiting(out_.reader_waiting, m_->data_ready(side_));
  }

  // A message larger than half the ring: as much as fits now, the rest as room appears (or,
  // non-blocking, held for flush() once any of it is in the ring).
  Status stream(std::string_view a, std::string_view b) { return write_stream(a, b, false); }

  Status write_stream(std::string_view a, std::string_view b, bool flushing) {
    std::uint64_t written = 0;
    if (!flushing) pending_start_ = out_.head.load(std::memory_order_relaxed);
    const std::uint64_t total = a.size() + b.size();
    while (written < total) {
      if (peer_gone_cheap()) return closed_for_send();
      const std::uint64_t head = out_.head.load(std::memory_order_relaxed);
      const std::uint64_t free = room(head, 1);
      if (free == 0) {
        if (nonblocking_) {
          if (!flushing && written > 0) hold(a, b, written);
          if (flushing) pending_off_ += static_cast<std::size_t>(written);
          settle_writable();
          if (!flushing && written > 0) return {};
          return sys_fail(EAGAIN, "shm_ring: the ring of " + std::to_string(size_) + " bytes is full");
        }
        if (auto ok = wait_writable(); !ok) return ok;
        continue;
      }
      std::uint64_t n = std::min(free, total - written);
      std::uint64_t pos = head;
      for (std::uint64_t k = 0; k < n;) {  // the bytes [written, written + n) of a then b
        const std::uint64_t at = written + k;
        const std::string_view part = at < a.size() ? a.substr(at) : b.substr(at - a.size());
        const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(part.size(), n - k));
        copy_in(pos, part.data(), len);
        pos += len;
        k += len;
      }
      publish(head + n);
      written += n;
    }
    if (flushing) clear_pending();
    return {};
  }

  void hold(std::string_view a, std::string_view b, std::uint64_t written) {
    std::string rest;
    rest.reserve(a.size() + b.size() - written);
    if (written < a.size()) {
      rest.append(a.substr(static_cast<std::size_t>(written)));
      rest.append(b);
    } else {
      rest.append(b.substr(static_cast<std::size_t>(written - a.size())));
    }
    pending_ = std::move(rest);
    pending_off_ = 0;
  }

  std::size_t pending_size() const noexcept { return pending_.size() - pending_off_; }
  void clear_pending() noexcept {
    pending_.clear();
    pending_off_ = 0;
  }

  // The condition the reader wakes a waiting writer for (and the only one a writer waits for).
  bool writable_now() noexcept {
    const std::uint64_t head = out_.head.load(std::memory_order_relaxed);
    return head - out_.tail.load(kSeq) <= size_ / 2 || m_->shared().gone[1 - side_].load(kSeq) != 0;
  }

  void settle_writable() noexcept {
    writer_.settle([&] { return writable_now(); });
  }

  Status wait_writable() {
    for (;;) {
      if (spin_write_.spin([&] { return writable_now(); })) break;
      writer_.prepare();
      if (writable_now()) break;
      if (peer_gone_cheap()) break;
      auto exited = writer_.sleep(peer_);
      if (!exited) return forward_error(std::move(exited).error());
      if (*exited) {
        peer_dead_.store(true, std::memory_order_relaxed);
        break;
      }
    }
    if (peer_gone_cheap() || peer_dead_.load(std::memory_order_relaxed)) return closed_for_send();
    return {};
  }

  // --- reading ---------------------------------------------------------------------------

  std::uint64_t available(std::uint64_t tail, std::uint64_t want) noexcept {
    if (cached_head_ < tail || cached_head_ - tail < want) cached_head_ = in_.head.load(kSeq);
    return cached_head_ >= tail ? cached_head_ - tail : 0;
  }

  void copy_out(std::uint64_t pos, char* dst, std::size_t n) const noexcept {
    const std::size_t off = static_cast<std::size_t>(pos & (size_ - 1));
    const std::size_t first = std::min<std::size_t>(n, static_cast<std::size_t>(size_) - off);
    if (first > 0) std::memcpy(dst, in_data_ + off, first);
    if (n > first) std::memcpy(dst + first, in_data_, n - first);
  }

  void append_out(std::uint64_t pos, std::string& dst, std::size_t n) const {
    const std::size_t off = static_cast<std::size_t>(pos & (size_ - 1));
    const std::size_t first = std::min<std::size_t>(n, static_cast<std::size_t>(size_) - off);
    dst.append(in_data_ + off, first);
    if (n > first) dst.append(in_data_, n - first);
  }

  void consumed(std::uint64_t new_tail) noexcept {
    // A writer waits only for "at most half in use"; below that mark it may be waiting.
    if (cached_head_ - new_tail <= size_ / 2) {
      in_.tail.store(new_tail, kSeq);
      wake_if_waiting(in_.writer_waiting, m_->space_ready(1 - side_));
    } else {
      in_.tail.store(new_tail, std::memory_order_release);
    }
  }

  // Moves bytes from the ring into msg_; true once msg_ is a whole message.
  Result<bool> take() {
    std::uint64_t tail = in_.tail.load(std::memory_order_relaxed);
    if (!in_msg_) {
      if (available(tail, sizeof(WireHeader)) < sizeof(WireHeader)) return false;
      WireHeader wire;
      copy_out(tail, reinterpret_cast<char*>(&wire), sizeof wire);
      if (wire.chunk != 0) return fail(errc::frame_invalid, "shm_ring: malformed frame header");
      if (auto ok = check_length("shm_ring", wire.length, max_length()); !ok) {
        return forward_error(std::move(ok).error());
      }
      tail += sizeof wire;
      msg_.header = to_message_header(wire);
      msg_.payload.clear();
      msg_.payload.reserve(wire.length);
      need_ = wire.length;
      in_msg_ = true;
    }
    const std::uint64_t have = available(tail, need_);
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(have, need_));
    append_out(tail, msg_.payload, n);
    need_ -= n;
    consumed(tail + n);
    return need_ == 0;
  }

  // A whole header or some of the current message is there.
  bool data_ready() noexcept {
    const std::uint64_t tail = in_.tail.load(std::memory_order_relaxed);
    return in_.head.load(kSeq) - tail >= (in_msg_ ? 1 : sizeof(WireHeader));
  }
  // Can receive() make progress: data, or the end.
  bool inbound_ready() noexcept { return data_ready() || m_->shared().gone[1 - side_].load(kSeq) != 0; }

  void settle_readable() noexcept {
    reader_.settle([&] { return inbound_ready(); });
  }

  // --- the peer ----------------------------------------------------------------------------

  bool peer_gone_cheap() const noexcept {
    return m_->shared().gone[1 - side_].load(std::memory_order_relaxed) != 0 ||
           peer_dead_.load(std::memory_order_relaxed);
  }
  // Also asks the pidfd (a syscall): only on the way to sleeping or EAGAIN.
  bool peer_gone_checked() noexcept {
    if (m_->shared().gone[1 - side_].load(kSeq) != 0 || peer_dead_.load(std::memory_order_relaxed)) return true;
    if (peer_.watching() && peer_.exited()) {
      peer_dead_.store(true, std::memory_order_relaxed);
      return true;
    }
    return false;
  }

  Status closed_for_send() const {
    return fail(errc::peer_closed, "shm_ring: the peer is gone; nothing sent now would be read");
  }
  Unexpected<Error> closed_for_receive() const {
    if (in_msg_ || in_.head.load(kSeq) != in_.tail.load(kSeq)) {
      return fail(errc::peer_closed, "shm_ring: the peer ended in the middle of a message");
    }
    return fail(errc::peer_closed, "shm_ring: the peer is gone and everything it sent was received");
  }

  std::shared_ptr<RingMapping> m_;
  int side_;
  RingControl& out_;  // we write
  RingControl& in_;   // we read
  char* out_data_;
  char* in_data_;
  std::uint64_t size_;
  Sleeper reader_;  // our sleeps while the inbound ring is empty
  Sleeper writer_;  // our sleeps while the outbound ring is full
  AdaptiveSpin spin_read_;
  AdaptiveSpin spin_write_;
  PeerWatch peer_;
  std::atomic<bool> peer_dead_{false};  // seen by receive, used by send (another thread)
  // sending thread
  std::uint64_t cached_tail_ = 0;
  std::string pending_;
  std::size_t pending_off_ = 0;
  std::uint64_t pending_start_ = 0;  // where the held message's frame begins in the ring
  // receiving thread
  std::uint64_t cached_head_ = 0;
  Message msg_;
  bool in_msg_ = false;
  std::uint64_t need_ = 0;
};

}  // namespace

Result<ChannelPair> make_shm_ring_pair(const ChannelOptions& options) {
  auto mapping = RingMapping::create(options.ring_size);
  if (!mapping) return forward_error(std::move(mapping).error());
  ChannelPair pair;
  pair.reactor = std::make_unique<ShmRingChannel>(*mapping, 0, options.max_length);
  pair.worker = std::make_unique<ShmRingChannel>(*mapping, 1, options.max_length);
  return pair;
}

}  // namespace procspec::detail
