#pragma once
// MsgQueue: a System V message queue (Swoole's useQueue/push/pop/statQueue/freeQueue).
//
// Ownership: a queue this object created is removed (IPC_RMID) when the object is destroyed in
// the creating process, unless it was opened with persist = true — the default for keyed
// queues, which outlive their processes by design (MQ-7); a private queue (open_private) never
// persists. Queues are created 0600 (MQ-6). Sizes are checked against the kernel's msgmax
// (read from /proc/sys/kernel/msgmax) before any syscall (MQ-2). Not thread-safe.
#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "procspec/result.h"

namespace procspec {

// MQ-1: added to the mode, makes push/pop non-blocking (Swoole's IPC_NOWAIT constant).
inline constexpr int kQueueNoWait = 256;

struct QueueStat {
  std::size_t messages = 0;  // msg_qnum
  std::size_t bytes = 0;     // msg_cbytes
};

struct QueueOptions {
  key_t key = 0;              // 0: ftok(path of the running program, 1)
  int mode = 2;               // 1 per-process (pop takes only `tag`), 2 shared; | kQueueNoWait
  std::size_t capacity = 0;   // msg_qbytes; 0 keeps the kernel default (msgmnb)
  long tag = 1;               // message type pushed (and popped in mode 1); > 0
  bool persist = true;        // keyed queues outlive the process; false: the creator removes it
};

class MsgQueue {
 public:
  // MQ-1: opens or creates (0600) the queue. Errors: invalid_argument (mode, tag), ftok/msgget
  // failures, EPERM when the capacity exceeds what this user may set.
  static Result<MsgQueue> open(const QueueOptions& options);
  // An IPC_PRIVATE queue, always removed when its creator's object is destroyed.
  static Result<MsgQueue> open_private(int mode = 2, std::size_t capacity = 0, long tag = 1);

  MsgQueue(MsgQueue&& other) noexcept;
  MsgQueue& operator=(MsgQueue&& other) noexcept;
  MsgQueue(const MsgQueue&) = delete;
  MsgQueue& operator=(const MsgQueue&) = delete;
  ~MsgQueue();

  // MQ-2: empty → payload_empty; above msgmax → payload_too_large naming the limit. MQ-3:
  // non-blocking and full → EAGAIN, not logged. EINTR is retried. Returns the bytes queued.
  Result<std::size_t> push(std::string_view data);
  // For a producer that builds each message in place: msgsnd takes the mtype header and the text
  // in one buffer (no iovec), so push() must copy; prepare(size) instead lends the text area of
  // this queue's send buffer (size bytes, checked as push checks them), valid until the next
  // prepare/push; push_prepared(n) sends its first n bytes (0 < n <= the prepared size, else
  // invalid_argument), with push's errors and retries.
  Result<std::span<char>> prepare(std::size_t size);
  Result<std::size_t> push_prepared(std::size_t size);
  // One message of at most `maxsize` bytes (<= 0: invalid_argument). MQ-4: a longer message is
  // an E2BIG error and stays queued (discard() steps over it, MQ-7). MQ-3: non-blocking and
  // empty → ENOMSG, not logged.
  Result<std::string> pop(std::ptrdiff_t maxsize = 8192);
  // pop() into a caller's string that is reused between calls: `out` is replaced by the
  // message and keeps its capacity, so a steady consumer allocates nothing. Returns its size;
  // on any error (the same as pop's) `out` is left empty.
  Result<std::size_t> pop_into(std::string& out, std::ptrdiff_t maxsize = 8192);
  // pop() without any copy: a view of the message inside this object's receive buffer, valid
  // until the next call on this queue. msgrcv writes the mtype header in front of the text, so
  // only a buffer the queue owns can take it without moving the text afterwards.
  Result<std::string_view> pop_view(std::ptrdiff_t maxsize = 8192);
  // Removes the message pop() would return next, whatever its size (never blocks): how a
  // consumer goes on after pop() reported a message too large for it (MQ-7).
  Status discard();
  // MQ-5: messages and bytes queued.
  Result<QueueStat> stat() const;
  // MQ-5: removes the queue now (IPC_RMID); later calls fail with EINVAL/EIDRM.
  Status free();

  int id() const { return id_; }
  key_t key() const { return key_; }
  long tag() const { return tag_; }
  bool nowait() const { return nowait_; }
  std::size_t msgmax() const { return msgmax_; }
  // Whether this object will remove the queue when destroyed.
  bool removes_on_destroy() const { return owner_pid_ != 0; }

  // Reads /proc/sys/kernel/msgmax (8192 when unreadable, the Linux default).
  static std::size_t kernel_msgmax();
  // The key `key = 0` stands for: ftok of the running program's path.
  static Result<key_t> default_key();

 private:
  MsgQueue() = default;
  static Result<MsgQueue> finish_open(int id, key_t key, int mode, std::size_t capacity, long tag,
                                      bool created, bool persist);
  long pop_type() const { return shared_ ? 0 : tag_; }
  Result<char*> send_area(std::size_t size, const char* what);
  Result<std::size_t> send(std::size_t size);

  int id_ = -1;
  key_t key_ = 0;
  long tag_ = 1;
  bool shared_ = true;
  bool nowait_ = false;
  pid_t owner_pid_ = 0;  // non-zero: remove the queue in this process's destructor
  std::size_t msgmax_ = 8192;
  std::string buffer_;       // pop's msgbuf (mtype + text), reused between calls; only grows
  std::string send_buffer_;  // push's msgbuf, apart so a prepared message survives a pop
  std::size_t prepared_ = 0; // bytes prepare() lent that push_prepared may send
};

}  // namespace procspec
