#pragma once
// Pool::Impl: everything a Pool owns. Shared by the files that implement the manager side
// (pool.cc), the IPC resources (pool_ipc.cc) and the child sides (pool_worker.cc,
// user_process.cc). A forked child works on its own copy of this object.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pool/manager.h"
#include "pool/shared_slots.h"
#include "procspec/pool.h"
#include "procspec/unique_fd.h"

namespace procspec {

struct Pool::Impl {
  PoolOptions options;
  Pool* self = nullptr;
  detail::SharedSlots slots;  // worker_num + kMaxUserProcesses entries

  WorkerFn on_worker_start;
  WorkerFn on_worker_stop;
  MessageFn on_message;
  PoolFn on_start;
  PoolFn on_shutdown;
  WorkerErrorFn on_worker_error;
  std::vector<UserProcessFactory> user_processes;

  // IPC resources.
  int msqid = -1;
  bool owns_queue = false;
  pid_t creator_pid = 0;
  UniqueFd listen_fd;
  // One datagram socketpair per slot that can receive messages (unixsock workers, user
  // processes): first = the senders' end, second = the receiver's end. Both stay open in the
  // manager so a restarted child finds the datagrams queued for its predecessor.
  std::vector<std::pair<UniqueFd, UniqueFd>> pipes;

  // Running state.
  std::unique_ptr<detail::Manager> manager;  // only in the manager, during start()
  pid_t master_pid = 0;                      // set by start(); children inherit it
  int worker_id = -1;                        // in a child
  std::string* response = nullptr;           // socket ipc: the answer being built in Message

  static constexpr int kMaxUserProcesses = 32;
  int user_count() const noexcept { return static_cast<int>(user_processes.size()); }
  bool has_slot(int id) const noexcept { return id >= 0 && id < options.worker_num + user_count(); }
  bool has_pipe(int id) const noexcept {
    return id >= 0 && static_cast<std::size_t>(id) < pipes.size() && pipes[static_cast<std::size_t>(id)].first.valid();
  }
};

namespace detail {

// pool_ipc.cc
Status open_msgqueue(Pool::Impl& impl);
void close_msgqueue(Pool::Impl& impl) noexcept;
Result<std::uint16_t> listen_tcp(Pool::Impl& impl, std::string_view host, std::uint16_t port, int backlog);
Status open_pipes(Pool::Impl& impl);
// In a child: keeps only the ends this child may use (its own receiving end, every sending end).
void keep_child_pipe_ends(Pool::Impl& impl, int id) noexcept;

// pool_worker.cc: the body of a pool worker; returns its exit status.
int run_pool_worker(Pool& pool, Pool::Impl& impl, int id);
// user_process.cc: the body of a user process.
int run_user_process(Pool& pool, Pool::Impl& impl, int id, const UserProcessFactory& factory);

}  // namespace detail
}  // namespace procspec
