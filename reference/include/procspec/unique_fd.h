#pragma once
// UniqueFd owns one file descriptor and closes it when destroyed. Move-only; no implicit int:
// handing the number out is explicit (get) and so is giving up ownership (release).
#include <utility>

namespace procspec {

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the current fd (EINTR on close is not retried: on Linux the fd is gone either way).
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace procspec
