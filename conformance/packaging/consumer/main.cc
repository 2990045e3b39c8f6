#include <procspec/result.h>

int main() {
  procspec::Status s = procspec::fail(procspec::errc::invalid_setting, "worker_num 0 is below 1");
  return (!s && s.error().code == procspec::errc::invalid_setting) ? 0 : 1;
}
