#include "procspec/msg_queue.h"

#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <utility>

#include "procspec/log.h"

namespace procspec {
namespace {

constexpr int kCreateMode = 0600;  // MQ-6: other users can neither read nor write the queue

std::string queue_name(int id) { return "msgqueue " + std::to_string(id); }

}  // namespace

std::size_t MsgQueue::kernel_msgmax() {
  std::ifstream in("/proc/sys/kernel/msgmax");
  long long v = 0;
  if (in >> v && v > 0) return static_cast<std::size_t>(v);
  return 8192;
}

Result<key_t> MsgQueue::default_key() {
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return sys_fail(errno, "readlink(/proc/self/exe) for the default queue key");
  path[n] = '\0';
  key_t key = ::ftok(path, 1);
  if (key == -1) return sys_fail(errno, std::string("ftok(") + path + ", 1)");
  return key;
}

Result<MsgQueue> MsgQueue::open(const QueueOptions& options) {
  key_t key = options.key;
  if (key == 0) {
    auto k = default_key();
    if (!k) return forward_error(std::move(k).error());
    key = *k;
  }
  if (key == IPC_PRIVATE) return fail(errc::invalid_argument, "key IPC_PRIVATE: use MsgQueue::open_private");
  // Creation is tried first with IPC_EXCL so we know whether this object created the queue
  // (only a creator may remove it on destruction).
  bool created = true;
  int id = ::msgget(key, IPC_CREAT | IPC_EXCL | kCreateMode);
  if (id == -1 && errno == EEXIST) {
    created = false;
    id = ::msgget(key, 0);
  }
  if (id == -1) return sys_fail(errno, "msgget(key " + std::to_string(key) + ")");
  return finish_open(id, key, options.mode, options.capacity, options.tag, created, options.persist);
}

Result<MsgQueue> MsgQueue::open_private(int mode, std::size_t capacity, long tag) {
  int id = ::msgget(IPC_PRIVATE, IPC_CREAT | kCreateMode);
  if (id == -1) return sys_fail(errno, "msgget(IPC_PRIVATE)");
  return finish_open(id, IPC_PRIVATE, mode, capacity, tag, true, false);
}

Result<MsgQueue> MsgQueue::finish_open(int id, key_t key, int mode, std::size_t capacity, long tag,
                                       bool created, bool persist) {
  MsgQueue q;
  q.id_ = id;
  q.key_ = key;
  // The object owns the queue from here, so every error below removes what we created.
  if (created && !persist) q.owner_pid_ = ::getpid();
  auto undo = [&] {
    if (created && q.owner_pid_ == 0) ::msgctl(id, IPC_RMID, nullptr);
  };
  q.nowait_ = (mode & kQueueNoWait) != 0;
  const int base = mode & ~kQueueNoWait;
  if (base != 1 && base != 2) {
    undo();
    return fail(errc::invalid_argument, "queue mode " + std::to_string(mode) + " is not 1 or 2 (| 256 for NOWAIT)");
  }
  if (tag <= 0) {
    undo();
    return fail(errc::invalid_argument, "queue tag " + std::to_string(tag) + " must be > 0");
  }
  q.shared_ = base == 2;
  q.tag_ = tag;
  q.msgmax_ = kernel_msgmax();
  if (capacity > 0) {
    msqid_ds ds{};
    if (::msgctl(id, IPC_STAT, &ds) == -1 || (ds.msg_qbytes = capacity, ::msgctl(id, IPC_SET, &ds) == -1)) {
      int err = errno;
      undo();
      return sys_fail(err, "msgctl(IPC_SET msg_qbytes " + std::to_string(capacity) + ")");
    }
  }
  return q;
}

MsgQueue::MsgQueue(MsgQueue&& other) noexcept
    : id_(std::exchange(other.id_, -1)), key_(other.key_), tag_(other.tag_), shared_(other.shared_),
      nowait_(other.nowait_), owner_pid_(std::exchange(other.owner_pid_, 0)), msgmax_(other.msgmax_),
      buffer_(std::move(other.buffer_)), send_buffer_(std::move(other.send_buffer_)),
      prepared_(std::exchange(other.prepared_, 0)) {}

MsgQueue& MsgQueue::operator=(MsgQueue&& other) noexcept {
  if (this != &other) {
    MsgQueue tmp(std::move(other));
    std::swap(id_, tmp.id_);
    std::swap(key_, tmp.key_);
    std::swap(tag_, tmp.tag_);
    std::swap(shared_, tmp.shared_);
    std::swap(nowait_, tmp.nowait_);
    std::swap(owner_pid_, tmp.owner_pid_);
    std::swap(msgmax_, tmp.msgmax_);
    std::swap(buffer_, tmp.buffer_);
    std::swap(send_buffer_, tmp.send_buffer_);
    std::swap(prepared_, tmp.prepared_);
  }
  return *this;
}

MsgQueue::~MsgQueue() {
  // Only in the process that created it: a forked child holding a copy must not remove it.
  if (id_ >= 0 && owner_pid_ != 0 && owner_pid_ == ::getpid()) ::msgctl(id_, IPC_RMID, nullptr);
}

// The text area of a `size`-byte message in the send buffer, mtype already in front of it.
Result<char*> MsgQueue::send_area(std::size_t size, const char* what) {
  prepared_ = 0;
  if (size == 0) return fail(errc::payload_empty, std::string(what) + ": the data to push is empty");
  // MQ-2: checked here, before msgsnd, so the error names the limit instead of a bare EINVAL.
  if (size > msgmax_) {
    return fail(errc::payload_too_large, std::string(what) + ": message of " + std::to_string(size) +
                                             " bytes exceeds msgmax " + std::to_string(msgmax_) +
                                             " (/proc/sys/kernel/msgmax)");
  }
  if (id_ < 0) return fail(errc::not_started, std::string(what) + ": the queue was freed");
  // Grown, never shrunk: no zero-filling again on every call.
  if (send_buffer_.size() < sizeof(long) + size) send_buffer_.resize(sizeof(long) + size);
  std::memcpy(send_buffer_.data(), &tag_, sizeof(long));
  return send_buffer_.data() + sizeof(long);
}

Result<std::size_t> MsgQueue::send(std::size_t size) {
  const int flags = nowait_ ? IPC_NOWAIT : 0;
  while (::msgsnd(id_, send_buffer_.data(), size, flags) == -1) {
    int err = errno;
    if (err == EINTR) continue;
    // MQ-3: a full queue in NOWAIT mode is flow control, not a fault: no warning.
    if (err != EAGAIN) log_warn("msgsnd on " + queue_name(id_) + " failed: " + std::strerror(err));
    return sys_fail(err, "msgsnd(" + queue_name(id_) + ", " + std::to_string(size) + " bytes)");
  }
  return size;
}

Result<std::size_t> MsgQueue::push(std::string_view data) {
  auto area = send_area(data.size(), "push");
  if (!area) return forward_error(std::move(area).error());
  std::memcpy(*area, data.data(), data.size());
  return send(data.size());
}

Result<std::span<char>> MsgQueue::prepare(std::size_t size) {
  auto area = send_area(size, "prepare");
  if (!area) return forward_error(std::move(area).error());
  prepared_ = size;
  return std::span<char>(*area, size);
}

Result<std::size_t> MsgQueue::push_prepared(std::size_t size) {
  if (size == 0 || size > prepared_) {
    return fail(errc::invalid_argument, "push_prepared: " + std::to_string(size) + " bytes, but prepare() lent " +
                                            std::to_string(prepared_) + " since the last push");
  }
  if (id_ < 0) return fail(errc::not_started, "push_prepared: the queue was freed");
  return send(size);
}

Result<std::string> MsgQueue::pop(std::ptrdiff_t maxsize) {
  auto v = pop_view(maxsize);
  if (!v) return forward_error(std::move(v).error());
  return std::string(*v);
}

Result<std::size_t> MsgQueue::pop_into(std::string& out, std::ptrdiff_t maxsize) {
  auto v = pop_view(maxsize);
  if (!v) {
    out.clear();
    return forward_error(std::move(v).error());
  }
  out.assign(v->data(), v->size());
  return v->size();
}

Result<std::string_view> MsgQueue::pop_view(std::ptrdiff_t maxsize) {
  if (maxsize <= 0) return fail(errc::invalid_argument, "pop: maxsize " + std::to_string(maxsize) + " must be > 0");
  if (id_ < 0) return fail(errc::not_started, "pop: the queue was freed");
  // No message can exceed msgmax, so a larger buffer would only waste memory.
  const std::size_t size = std::min(static_cast<std::size_t>(maxsize), msgmax_);
  if (buffer_.size() < sizeof(long) + size) buffer_.resize(sizeof(long) + size);
  const int flags = nowait_ ? IPC_NOWAIT : 0;  // never MSG_NOERROR: MQ-4, nothing is truncated
  for (;;) {
    ssize_t n = ::msgrcv(id_, buffer_.data(), size, pop_type(), flags);
    if (n >= 0) return std::string_view(buffer_.data() + sizeof(long), static_cast<std::size_t>(n));
    int err = errno;
    if (err == EINTR) continue;
    if (err == E2BIG) {
      return sys_fail(err, "msgrcv(" + queue_name(id_) + "): the next message is longer than maxsize " +
                               std::to_string(size) + "; it stays queued (discard() skips it)");
    }
    if (err != ENOMSG) log_warn("msgrcv on " + queue_name(id_) + " failed: " + std::strerror(err));
    return sys_fail(err, "msgrcv(" + queue_name(id_) + ")");
  }
}

Status MsgQueue::discard() {
  if (id_ < 0) return fail(errc::not_started, "discard: the queue was freed");
  long mtype = 0;
  // A zero-byte buffer with MSG_NOERROR takes the message and drops its text.
  while (::msgrcv(id_, &mtype, 0, pop_type(), IPC_NOWAIT | MSG_NOERROR) == -1) {
    if (errno == EINTR) continue;
    return sys_fail(errno, "msgrcv(" + queue_name(id_) + ", discard)");
  }
  return {};
}

Result<QueueStat> MsgQueue::stat() const {
  if (id_ < 0) return fail(errc::not_started, "stat: the queue was freed");
  msqid_ds ds{};
  if (::msgctl(id_, IPC_STAT, &ds) == -1) return sys_fail(errno, "msgctl(" + queue_name(id_) + ", IPC_STAT)");
  return QueueStat{static_cast<std::size_t>(ds.msg_qnum), static_cast<std::size_t>(ds.__msg_cbytes)};
}

Status MsgQueue::free() {
  if (id_ < 0) return fail(errc::not_started, "free: the queue was already freed");
  if (::msgctl(id_, IPC_RMID, nullptr) == -1) return sys_fail(errno, "msgctl(" + queue_name(id_) + ", IPC_RMID)");
  id_ = -1;
  owner_pid_ = 0;
  return {};
}

}  // namespace procspec
