#include "support/raw_channels.h"

#include <fcntl.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

namespace procspec::bench {
namespace {

Status write_all(int fd, std::span<const std::byte> msg, bool socket) noexcept {
  const std::byte* p = msg.data();
  std::size_t left = msg.size();
  while (left > 0) {
    ssize_t n = socket ? ::send(fd, p, left, MSG_NOSIGNAL) : ::write(fd, p, left);
    if (n < 0) return sys_fail(errno, "send");  // EINTR included: the watchdog's interruption
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return {};
}

Result<std::span<const std::byte>> read_exact(int fd, std::span<std::byte> buf) noexcept {
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0) return sys_fail(errno, "read");
    if (n == 0) return fail(errc::peer_closed, "end of stream: the peer closed its end");
    got += static_cast<std::size_t>(n);
  }
  return std::span<const std::byte>(buf);
}

}  // namespace

std::size_t read_proc_size(const char* path, std::size_t fallback) {
  std::ifstream in(path);
  unsigned long long v = 0;
  if (!(in >> v)) return fallback;
  return static_cast<std::size_t>(v);
}

// ---- socketpair ----------------------------------------------------------------------------

template <>
std::size_t SocketChannel<SOCK_STREAM>::max_message() { return SIZE_MAX; }
// A datagram must fit the sender's socket buffer (wmem_default, less the skb overhead); keep
// half of it as the limit so the kernel never refuses a benchmark size.
template <>
std::size_t SocketChannel<SOCK_DGRAM>::max_message() {
  return read_proc_size("/proc/sys/net/core/wmem_default", 212992) / 2;
}
template <>
std::size_t SocketChannel<SOCK_SEQPACKET>::max_message() {
  return read_proc_size("/proc/sys/net/core/wmem_default", 212992) / 2;
}

Result<SocketPairChannel> SocketPairChannel::open_type(int type, std::size_t size) {
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) return sys_fail(errno, "socketpair");
  return SocketPairChannel(type, size, UniqueFd(sv[0]), UniqueFd(sv[1]));
}

SocketPairChannel::SocketPairChannel(int type, std::size_t size, UniqueFd a, UniqueFd b)
    : type_(type), size_(size), a_(std::move(a)), b_(std::move(b)), buf_(size) {}

void SocketPairChannel::keep(Side s) noexcept { (s == Side::a ? b_ : a_).reset(); }

Status SocketPairChannel::send(Side from, std::span<const std::byte> msg) noexcept {
  if (type_ == SOCK_STREAM) return write_all(fd(from), msg, true);
  ssize_t n = ::send(fd(from), msg.data(), msg.size(), MSG_NOSIGNAL);
  if (n < 0) return sys_fail(errno, "send");
  if (static_cast<std::size_t>(n) != msg.size()) return fail(errc::message_truncated, "short datagram send");
  return {};
}

Result<std::span<const std::byte>> SocketPairChannel::recv(Side at) noexcept {
  auto buf = buf_.at(at);
  if (type_ == SOCK_STREAM) return read_exact(fd(at), buf);
  // MSG_TRUNC returns the datagram's real length, so a longer message is caught as a mismatch.
  ssize_t n = ::recv(fd(at), buf.data(), buf.size(), MSG_TRUNC);
  if (n < 0) return sys_fail(errno, "recv");
  if (n == 0) return fail(errc::peer_closed, "the peer closed its end");
  if (static_cast<std::size_t>(n) > buf.size())
    return fail(errc::message_truncated, "datagram of " + std::to_string(n) + " bytes, expected " + std::to_string(size_));
  return std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n));
}

// ---- pipe ----------------------------------------------------------------------------------

std::size_t PipeChannel::max_message() { return SIZE_MAX; }

Result<PipeChannel> PipeChannel::open(std::size_t size) {
  int ab[2], ba[2];
  if (::pipe2(ab, O_CLOEXEC) != 0) return sys_fail(errno, "pipe2");
  if (::pipe2(ba, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(ab[0]);
    ::close(ab[1]);
    return sys_fail(err, "pipe2");
  }
  UniqueFd fds[4] = {UniqueFd(ab[0]), UniqueFd(ab[1]), UniqueFd(ba[0]), UniqueFd(ba[1])};
  return PipeChannel(size, fds);
}

PipeChannel::PipeChannel(std::size_t size, UniqueFd fds[4])
    : ab_read_(std::move(fds[0])), ab_write_(std::move(fds[1])),
      ba_read_(std::move(fds[2])), ba_write_(std::move(fds[3])), buf_(size) {}

void PipeChannel::keep(Side s) noexcept {
  if (s == Side::a) {
    ab_read_.reset();
    ba_write_.reset();
  } else {
    ab_write_.reset();
    ba_read_.reset();
  }
}

Status PipeChannel::send(Side from, std::span<const std::byte> msg) noexcept {
  return write_all(from == Side::a ? ab_write_.get() : ba_write_.get(), msg, false);
}

Result<std::span<const std::byte>> PipeChannel::recv(Side at) noexcept {
  return read_exact(at == Side::a ? ba_read_.get() : ab_read_.get(), buf_.at(at));
}

// ---- SysV message queue --------------------------------------------------------------------

std::size_t SysvMsgChannel::max_message() { return read_proc_size("/proc/sys/kernel/msgmax", 8192); }

Result<SysvMsgChannel> SysvMsgChannel::open(std::size_t size) {
  int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (id < 0) return sys_fail(errno, "msgget");
  return SysvMsgChannel(id, size);
}

SysvMsgChannel::SysvMsgChannel(int id, std::size_t size)
    : id_(id), size_(size), send_buf_(sizeof(long) + size), recv_a_(sizeof(long) + size), recv_b_(sizeof(long) + size) {}

SysvMsgChannel::SysvMsgChannel(SysvMsgChannel&& o) noexcept
    : id_(std::exchange(o.id_, -1)), owner_(o.owner_), size_(o.size_), send_buf_(std::move(o.send_buf_)),
      recv_a_(std::move(o.recv_a_)), recv_b_(std::move(o.recv_b_)) {}

SysvMsgChannel::~SysvMsgChannel() {
  if (owner_ && id_ >= 0) ::msgctl(id_, IPC_RMID, nullptr);
}

void SysvMsgChannel::keep(Side s) noexcept { owner_ = s == Side::a; }

Status SysvMsgChannel::send(Side from, std::span<const std::byte> msg) noexcept {
  const long type = from == Side::a ? 1 : 2;
  std::memcpy(send_buf_.data(), &type, sizeof type);
  std::memcpy(send_buf_.data() + sizeof type, msg.data(), msg.size());
  if (::msgsnd(id_, send_buf_.data(), msg.size(), 0) != 0) return sys_fail(errno, "msgsnd");
  return {};
}

Result<std::span<const std::byte>> SysvMsgChannel::recv(Side at) noexcept {
  auto& buf = at == Side::a ? recv_a_ : recv_b_;
  const long type = at == Side::a ? 2 : 1;
  // No MSG_NOERROR: a longer message fails with E2BIG instead of being cut silently.
  ssize_t n = ::msgrcv(id_, buf.data(), size_, type, 0);
  if (n < 0) return sys_fail(errno, "msgrcv");
  return std::span<const std::byte>(buf.data() + sizeof(long), static_cast<std::size_t>(n));
}

// ---- POSIX message queue -------------------------------------------------------------------

std::size_t PosixMqChannel::max_message() { return read_proc_size("/proc/sys/fs/mqueue/msgsize_max", 8192); }

namespace {

Result<mqd_t> open_unlinked_mq(std::size_t size, const char* dir) {
  static std::atomic<unsigned> counter{0};
  const std::string name = "/procspec-bench-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1)) + "-" + dir;
  mq_attr attr{};
  attr.mq_maxmsg = static_cast<long>(read_proc_size("/proc/sys/fs/mqueue/msg_max", 10));
  if (attr.mq_maxmsg > 10) attr.mq_maxmsg = 10;  // the unprivileged default; the queue depth
  attr.mq_msgsize = static_cast<long>(size);
  mqd_t q = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
  if (q == static_cast<mqd_t>(-1)) return sys_fail(errno, "mq_open " + name);
  ::mq_unlink(name.c_str());
  return q;
}

}  // namespace

Result<PosixMqChannel> PosixMqChannel::open(std::size_t size) {
  auto ab = open_unlinked_mq(size, "ab");
  if (!ab) return forward_error(std::move(ab).error());
  auto ba = open_unlinked_mq(size, "ba");
  if (!ba) {
    ::mq_close(*ab);
    return forward_error(std::move(ba).error());
  }
  return PosixMqChannel(*ab, *ba, size);
}

PosixMqChannel::PosixMqChannel(mqd_t ab, mqd_t ba, std::size_t size) : ab_(ab), ba_(ba), size_(size), buf_(size) {}

PosixMqChannel::PosixMqChannel(PosixMqChannel&& o) noexcept
    : ab_(std::exchange(o.ab_, -1)), ba_(std::exchange(o.ba_, -1)), size_(o.size_), buf_(std::move(o.buf_)) {}

PosixMqChannel::~PosixMqChannel() {
  if (ab_ >= 0) ::mq_close(ab_);
  if (ba_ >= 0) ::mq_close(ba_);
}

Status PosixMqChannel::send(Side from, std::span<const std::byte> msg) noexcept {
  const char* p = reinterpret_cast<const char*>(msg.data());
  if (::mq_send(from == Side::a ? ab_ : ba_, p, msg.size(), 0) != 0) return sys_fail(errno, "mq_send");
  return {};
}

Result<std::span<const std::byte>> PosixMqChannel::recv(Side at) noexcept {
  auto buf = buf_.at(at);
  ssize_t n = ::mq_receive(at == Side::a ? ba_ : ab_, reinterpret_cast<char*>(buf.data()), buf.size(), nullptr);
  if (n < 0) return sys_fail(errno, "mq_receive");
  return std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n));
}

}  // namespace procspec::bench
