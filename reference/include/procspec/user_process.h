#pragma once
// UserProcess: a long-running custom process that a Pool (or a Server) keeps alive — the
// EasySwoole AbstractProcess pattern (seeds: run / onPipeReadable / onShutDown / onException).
//
// The owner registers a *factory*, not an object: the manager calls it in every new child, so
// a process restarted after SIGTERM runs the work code as it is at that moment (POOL-9's "hot
// restart": send SIGTERM to the user process, its on_shutdown runs, it exits, the manager starts
// a fresh one). Lifecycle in the child (role `user`): an EventLoop is created, the factory builds
// the object and run() is called — timers (Timer::tick) and fds it registers are served by that
// loop once run() returns; the loop also delivers each message sent to the process to
// on_pipe_readable(). SIGTERM stops the loop; then on_shutdown() runs and the process exits 0.
// A run() that loops instead of returning should poll running() and return once it is false.
// A SIGTERM handler that run() registers through signals.h replaces the default stop (SIG-5);
// it ends the process with EventLoop::current()->stop(). An exception escaping run() or
// on_pipe_readable() goes to on_exception() and the process exits 1 (and is restarted).
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace procspec {

class UserProcess {
 public:
  explicit UserProcess(std::string name) : name_(std::move(name)) {}
  virtual ~UserProcess() = default;
  UserProcess(const UserProcess&) = delete;
  UserProcess& operator=(const UserProcess&) = delete;

  const std::string& name() const noexcept { return name_; }
  // The id the owner gave this process (after the workers: worker_num + index).
  int id() const noexcept { return id_; }
  // False once SIGTERM arrived; a run() that loops must check it.
  bool running() const noexcept;

 protected:
  virtual void run() = 0;
  // One message sent to this process (Pool::send_message to its id).
  virtual void on_pipe_readable(std::string_view /*message*/) {}
  virtual void on_shutdown() {}
  virtual void on_exception(const std::exception& /*error*/) {}

 private:
  friend struct UserProcessRunner;
  std::string name_;
  int id_ = -1;
};

using UserProcessFactory = std::function<std::unique_ptr<UserProcess>()>;

}  // namespace procspec
