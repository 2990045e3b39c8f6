#pragma once
// Process: the C++ counterpart of Swoole\Process. A Process owns a callback, an optional
// socketpair to its child, the child itself (once started) and optionally a SysV queue.
//
// Ownership: a started child is killed (SIGTERM, then SIGKILL after kDestroyGrace) and reaped
// when its Process is destroyed in the process that started it, unless detach()ed; a child
// already reaped by join() or by the static wait() is never reaped twice. A Process is used
// from one thread at a time. Calls that can fail return Result/Status; nothing throws.
//
// Pipe ends: before start() the object holds both ends; after start() the parent keeps only its
// end and the child only its own (PRC-13: the child's death gives the parent end-of-file).
#include <sys/types.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "procspec/channel.h"
#include "procspec/msg_queue.h"
#include "procspec/result.h"
#include "procspec/signals.h"
#include "procspec/timer.h"
#include "procspec/unique_fd.h"

namespace procspec {

// PRC-1: 0 none, 1 UDS SOCK_STREAM, 2 message pipe (the default). uds_dgram keeps message
// boundaries; it is a SOCK_SEQPACKET socketpair because a SOCK_DGRAM socketpair never tells a
// reader that its peer died (measured on Linux 6.x: poll stays silent, recv says EAGAIN), and
// PRC-13 requires end-of-file when the child dies.
//
// Beyond Swoole (issue #9): two message pipes built on procspec::Channel (channel.h). Both keep
// message boundaries like uds_dgram: write() sends one message of up to kMaxMessage bytes,
// read() returns one message, whole even when longer than `size` (PRC-7: never cut, `size` is a
// hint), an empty string at end-of-file.
//   uds_batch: a SOCK_STREAM socketpair with length framing that coalesces messages. The rule:
//     blocking mode (the default, also with a timeout) writes each message at once, like
//     uds_stream; non-blocking mode (set_blocking(false)) buffers messages and writes them
//     together when 64 KiB are buffered, or at flush(), read()/read_into(), close(),
//     set_blocking(true), the end of the current EventLoop turn (if this thread has a loop:
//     EventLoop::defer runs the flush before the loop waits again, so no message waits longer
//     than one turn), the child's callback returning or exit(), and destruction. If the socket
//     is full at one of those moments, the rest stays buffered (has_pending()): poll
//     writable_target() and call flush(), as with any non-blocking write.
//   shm_ring: an SPSC ring per direction in shared memory (made before fork), eventfd wake-ups
//     only when the other side sleeps; no syscall per message while both sides are busy. A
//     message larger than the ring is streamed through it and reassembled. The ring cannot see
//     a process die, so each side watches the other's pid (pidfd): the child's death is
//     end-of-file for the parent (PRC-13) after every whole message it wrote, and the parent's
//     death is end-of-file for the child.
//   Neither carries stdio: redirect_stdio is refused at create() (the ring has no fd; a program
//   writing raw bytes into uds_batch's framed stream would be read as garbage), and exec() is
//   refused on shm_ring (the new image cannot reach the ring). exec() on uds_batch is allowed
//   and behaves as on every pipe type without redirect_stdio: the program does not inherit the
//   pipe (close-on-exec), and the parent sees end-of-file when it exits.
//   Destroying a Process (or closing its pipe) with buffered messages writes them first, waiting
//   at most kDestroyGrace for the peer to make room; only what still does not fit then is lost
//   (and logged as a warning).
enum class PipeType { none = 0, uds_stream = 1, uds_dgram = 2, uds_batch = 3, shm_ring = 4 };

// "uds_dgram"/"uds-dgram"/"2", "uds_stream"/"1", "uds_batch"/"3", "shm_ring"/"4", "none"/"0".
Result<PipeType> parse_pipe_type(std::string_view name);
std::string_view pipe_type_name(PipeType type) noexcept;

// PRC-11: which direction close() shuts down.
enum class PipeSide { both = 0, read = 1, write = 2 };

struct ProcessOptions {
  bool redirect_stdio = false;  // PRC-4: child's fds 0, 1, 2 are the pipe; forces uds_stream
  PipeType pipe_type = PipeType::uds_dgram;
  // PRC-12: SIGTERM to the child when its parent dies. Linux ties PR_SET_PDEATHSIG to the
  // thread that forked: start() such a Process from a thread that outlives the child.
  bool exit_with_parent = false;
  // shm_ring: bytes of each direction's ring (ChannelOptions::ring_size: a power of two in
  // 4 KiB .. 1 GiB). Messages larger than the ring still pass, streamed through it.
  std::size_t ring_size = 1024 * 1024;
};

// How a child ended (WAIT-1): exit(3) → {pid, 3, 0}; killed by SIGKILL → {pid, 0, 9}.
struct ExitStatus {
  pid_t pid = 0;
  int code = 0;
  int signal = 0;
  std::string to_string() const;  // "pid 123 exited with code 3" / "pid 123 killed by signal 9"
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

// Outcome of Process::wait(): a status, or "none" with the reason (WAIT-2, WAIT-3).
struct [[nodiscard]] WaitResult {
  std::optional<ExitStatus> status;
  // Why there is no status: ECHILD (no children at all) or empty (WNOHANG, children running).
  std::error_code none_reason;
  bool none() const { return !status.has_value(); }
  explicit operator bool() const { return status.has_value(); }
};

class Process {
 public:
  using Callback = std::function<void(Process&)>;
  static constexpr std::chrono::milliseconds kDestroyGrace{1000};
  static constexpr std::ptrdiff_t kDefaultReadSize = 8192;
  // The largest message of a uds_batch or shm_ring pipe (Swoole's package_max_length default).
  static constexpr std::size_t kMaxMessage = 2 * 1024 * 1024;

  // Any callable taking Process& (move-only ones too). Fails (and never calls the callback) if
  // the pipe cannot be created or the current role may not create processes (PRC-1).
  template <class F>
    requires std::invocable<F&, Process&>
  static Result<Process> create(F&& callback, ProcessOptions options = {}) {
    return create_impl(wrap(std::forward<F>(callback)), options);
  }

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // PRC-3: ids increase by 1 per created Process, from 1 or from the base a server set.
  int id() const { return id_; }
  // Sets the id the next created Process gets (a server passes its total worker count).
  static void set_id_base(int next_id);

  // PRC-2: forks and runs the callback in the child, which exits 0 when it returns. Returns the
  // child's pid to the parent. Error if this Process's child is still running.
  Result<pid_t> start();
  pid_t pid() const { return pid_; }
  bool in_child() const { return in_child_; }
  const ProcessOptions& options() const { return options_; }

  // The pipe end of the current side (parent before/after start, child inside the callback),
  // for an event loop to watch (POLLIN: read() can make progress); -1 without a pipe. shm_ring:
  // an eventfd that is readable while a message (or the end) waits, in non-blocking mode.
  int pipe_fd() const;
  // What to poll until write()/flush() can make progress: {pipe_fd(), POLLOUT} for the socket
  // pipes; shm_ring: {an eventfd, POLLIN} (readable once the ring has room); {-1, 0} without a pipe.
  PollTarget writable_target() const;

  // PRC-5: blocks until all is written (stream) or the message is sent (dgram); returns bytes
  // written. Errors: payload_empty, no_pipe, payload_too_large (a message above the pipe's
  // limit, named in the message), EAGAIN in non-blocking mode, ETIMEDOUT after set_timeout.
  // uds_batch / shm_ring: EPIPE once the other side is gone. Non-blocking, the message is
  // accepted whole or not at all (EAGAIN: poll writable_target(), then flush()); with a
  // timeout, ETIMEDOUT means nothing was accepted, and an accepted message whose tail did not
  // fit within the timeout stays buffered for the next call (has_pending()).
  Result<std::size_t> write(std::string_view data);
  // PRC-6: size <= 0 is invalid_argument. Stream: up to `size` bytes. Dgram: exactly one message,
  // whole even when longer than `size` (PRC-7: never truncated, `size` is a hint there).
  // End-of-file (peer gone or shut down) is an empty string, every time it is asked (PRC-11).
  // Non-blocking mode: EAGAIN; with a timeout: ETIMEDOUT, not logged (PRC-13).
  Result<std::string> read(std::ptrdiff_t size = kDefaultReadSize);
  // read() into a caller's string reused between calls: `out` is replaced by what was read and
  // keeps its capacity (a steady reader allocates nothing; only growth of out.size() up to
  // `size` is zero-filled). The kernel copies straight into `out`; a dgram message longer than
  // `size` is still taken whole (its tail lands in a per-thread buffer, then is appended).
  // Returns the byte count, 0 at end-of-file; same errors as read(), after which `out` is empty.
  // uds_batch / shm_ring: `out` takes over the received message's own string (no copy; its
  // capacity is the message's), and `size` is only checked, as in read().
  Result<std::size_t> read_into(std::string& out, std::ptrdiff_t size = kDefaultReadSize);
  Status set_blocking(bool blocking);
  // 0 disables (the default: block forever). Applies to read and write.
  Status set_timeout(std::chrono::milliseconds timeout);
  // PRC-11: shutdown semantics on the current end; `both` also closes the fd (later I/O: no_pipe).
  // uds_batch: write/both first write what is buffered (bounded, as at destruction). shm_ring has
  // no shutdown: write/both put an end-of-file mark in the ring after the messages (the peer's
  // reads then return "" every time), later writes here fail with EPIPE; read only makes this
  // side's reads return "" (the peer is not told: its writes fill the ring and then wait).
  Status close(PipeSide which = PipeSide::both);
  // The largest message write() accepts on a message pipe (0 for stream or none).
  std::size_t max_message_size() const { return max_message_; }
  // uds_batch and shm_ring: writes what non-blocking writes left buffered (see PipeType). Blocking
  // mode waits (bounded by the timeout, if one is set); non-blocking: EAGAIN while some remains.
  // Other pipe types have nothing buffered: a no-op.
  Status flush();
  bool has_pending() const;

  // PRC-8 (child only): replaces the image with execv(path, [path, args...]); no PATH lookup.
  // Returns only on a precondition error (empty path, not in the child). An execv failure is
  // reported to the parent through a CLOEXEC pipe and ends the child with status 127: the
  // parent's read() then fails with exec_failed at end-of-file, and join() does too.
  Status exec(const std::string& path, const std::vector<std::string>& args = {});
  // PRC-9: process title (prctl PR_SET_NAME, 15 bytes in /proc/PID/comm; and the argv area,
  // what ps shows, up to its original length). Applies to the calling process.
  Status name(std::string_view title);
  // PRC-10 (child only): runs the shutdown callbacks, flushes stdio and _exit(code); code 0..255.
  Status exit(int code = 0);
  // Registers a callback run by exit() and when a child's callback returns. A child starts with
  // none (the parent's are not inherited).
  static void add_shutdown_callback(std::function<void()> fn);

  // Parent side: waits for this child (retrying EINTR); if the static wait() already reaped it,
  // returns the status it recorded. Error exec_failed if the child reported an execv failure.
  Result<ExitStatus> join();
  // Gives the child up: it is neither killed nor reaped by this object.
  void detach();

  // WAIT-5: kill(2). sig 0 on a missing pid: error ESRCH, not logged (a liveness probe); any
  // other failure is an error naming the errno, logged as a warning. pid <= 0 (process groups,
  // every process) is refused with invalid_argument; a bad signal number is EINVAL.
  static Status kill(pid_t pid, int sig = 15 /* SIGTERM */);
  // WAIT-1..4: waitpid(-1). blocking=false with running children → none (no log); no children
  // → none with ECHILD (no log); EINTR is retried, never reported as none.
  static WaitResult wait(bool blocking = true);

  // Swoole\Process::signal and ::alarm, for readers of Swoole's docs: the same rules as
  // Signals (SIG-1..SIG-7: handlers run in the event loop, role restrictions apply; a null
  // handler removes) and Timer::alarm (TMR-2/TMR-3: one clock source per process).
  static Status signal(int signo, SignalHandler handler) { return Signals::set(signo, std::move(handler)); }
  static Status ignore_signal(int signo) { return Signals::ignore(signo); }
  static Status alarm(std::int64_t usec, int type = 0 /* ITIMER_REAL */) { return Timer::alarm(usec, type); }

  // SysV queue (MQ-*), delegating to MsgQueue with this process's tag (id + 1).
  // use_queue: key 0 → ftok(program path); mode 1 per-process, 2 shared, | kQueueNoWait.
  // The queue is keyed, so it persists after this process by design; free_queue() removes it.
  Status use_queue(key_t key = 0, int mode = 2, std::size_t capacity = 0);
  Result<std::size_t> push(std::string_view data);
  Result<std::string> pop(std::ptrdiff_t maxsize = 8192);
  Result<std::size_t> pop_into(std::string& out, std::ptrdiff_t maxsize = 8192);  // MsgQueue::pop_into
  Result<QueueStat> stat_queue() const;
  Status free_queue();
  MsgQueue* queue() { return queue_ ? &*queue_ : nullptr; }

 private:
  Process(int id, Callback cb, ProcessOptions options);
  static Result<Process> create_impl(Callback cb, ProcessOptions options);

  template <class F>
  static Callback wrap(F&& f) {
    using D = std::decay_t<F>;
    if constexpr (std::is_copy_constructible_v<D>) {
      return Callback(std::forward<F>(f));
    } else {
      auto held = std::make_shared<D>(std::forward<F>(f));
      return [held](Process& p) { (*held)(p); };
    }
  }

  Status make_pipe();
  [[noreturn]] void run_child(pid_t parent_pid);
  void release_child() noexcept;
  void forget_pipe_ends() noexcept;
  Result<std::size_t> write_stream(int fd, std::string_view data);
  Status check_read(std::ptrdiff_t size, const char* what) const;
  Result<std::size_t> receive(int fd, char* head, std::size_t len);
  Status after_read(std::size_t n);
  Status wait_readable(int fd);
  Status exec_report();
  int current_fd() const { return in_child_ ? worker_end_.get() : master_end_.get(); }
  // uds_batch / shm_ring (process_channel.cc).
  bool channel_pipe() const {
    return options_.pipe_type == PipeType::uds_batch || options_.pipe_type == PipeType::shm_ring;
  }
  bool has_pipe() const { return channel_pipe() ? current_channel() != nullptr : current_fd() >= 0; }
  Channel* current_channel() const { return in_child_ ? worker_chan_.get() : master_chan_.get(); }
  Status make_channel_pipe();
  Status start_channel_pipe(pid_t peer) noexcept;
  Result<std::size_t> channel_write(std::string_view data);
  Result<std::size_t> channel_read(std::string& out);
  Status channel_close(PipeSide which);
  Status channel_wait(bool readable, int timeout_ms);
  void schedule_flush();
  void flush_bounded() noexcept;
  void drop_channels() noexcept;

  int id_ = 0;
  Callback callback_;
  ProcessOptions options_;
  pid_t pid_ = 0;
  pid_t parent_pid_ = 0;  // the process that started the child (the one that must reap it)
  bool in_child_ = false;
  bool detached_ = false;
  bool reaped_ = false;  // joined: the pid is no longer ours to signal
  int exec_errno_ = 0;   // what the child reported through exec_report_
  bool blocking_ = true;
  int timeout_ms_ = 0;
  std::size_t max_message_ = 0;
  UniqueFd master_end_;
  UniqueFd worker_end_;
  UniqueFd exec_report_;  // parent: read end of the CLOEXEC pipe; child: write end
  std::optional<MsgQueue> queue_;
  // uds_batch / shm_ring: the parent's and the child's Channel endpoints (shared_ptr so that an
  // EventLoop's deferred flush can hold a weak reference), the peer's pidfd for timed waits.
  std::shared_ptr<Channel> master_chan_;
  std::shared_ptr<Channel> worker_chan_;
  UniqueFd peer_pidfd_;
  std::shared_ptr<bool> flush_deferred_;  // an end-of-turn flush is queued on this thread's loop
  bool read_shut_ = false;                // close(read) / end-of-file seen: reads return EOF
  bool write_shut_ = false;               // close(write): writes fail with EPIPE
};

}  // namespace procspec
