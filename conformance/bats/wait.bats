# SPEC WAIT through the driver's probes (black box).
load helpers

# bats test_tags=spec:WAIT-1
@test "WAIT-1: exit(3) is reported as code 3, signal 0" {
  run_probe wait-exit 3
  json_is '.pid > 0 and .code == 3 and .signal == 0'
}

# bats test_tags=spec:WAIT-1
@test "WAIT-1: a child killed by SIGKILL is reported as code 0, signal 9" {
  run_probe wait-signal 9
  json_is '.pid > 0 and .code == 0 and .signal == 9'
}

# bats test_tags=spec:WAIT-2
@test "WAIT-2: wait(false) with a running child returns none without a warning" {
  run_probe wait-nohang
  json_is '.result == "none" and .warned == false'
}

# bats test_tags=spec:WAIT-3
@test "WAIT-3: wait() without children returns none (ECHILD) without a warning" {
  run_probe wait-nochild
  json_is '.result == "none" and .errno == "ECHILD" and .warned == false'
}

# bats test_tags=spec:WAIT-4
@test "WAIT-4: a signal handled during wait() does not make it return none" {
  run_probe wait-eintr
  json_is '.handler_ran == true and .pid > 0 and .code == 0 and .signal == 0'
}

# bats test_tags=spec:WAIT-5
@test "WAIT-5: kill(missing, 0) fails with ESRCH and no warning" {
  run_probe kill-missing 0
  json_is '.ok == false and .errno == "ESRCH" and .warned == false'
}

# bats test_tags=spec:WAIT-5
@test "WAIT-5: kill(missing, SIGTERM) fails with an error naming ESRCH" {
  run_probe kill-missing 15
  json_is '.ok == false and .errno == "ESRCH"'
}
