# SPEC TMR: timers and alarm, through the IUT driver.
load helpers

# bats test_tags=spec:TMR-1
@test "TMR-1: after() timers fire in deadline order" {
  run_probe timer-order 90 30 60 1
  json_is '.fired == [1, 30, 60, 90]'
}

# bats test_tags=spec:TMR-1
@test "TMR-1: a shorter timer added last still fires first" {
  run_probe timer-order 60 60 1
  json_is '.fired == [1, 60, 60]'
}

# bats test_tags=spec:TMR-3
@test "TMR-3: alarm while a timer exists is refused with a message saying why" {
  run_probe alarm-after-timer
  json_is '.ok == false and (.message | test("timer and alarm cannot be used together"))'
}

# bats test_tags=spec:TMR-3
@test "TMR-3: a timer after an armed alarm is refused (procspec: one clock source)" {
  run_probe timer-after-alarm
  json_is '.ok == false'
}

# bats test_tags=spec:TMR-3
@test "TMR-3: alarm(0) is allowed while a timer exists" {
  run_probe alarm-clear-after-timer
  json_is '.ok == true'
}

# bats test_tags=spec:TMR-2
@test "TMR-2: alarm microseconds of 1e6 and more carry into seconds" {
  run_probe alarm-carry 2500000
  json_is '.ok == true and .interval_sec == 2 and .interval_usec == 500000 and .signal == 14'
  run_probe alarm-carry 999999
  json_is '.ok == true and .interval_sec == 0 and .interval_usec == 999999'
}

# bats test_tags=spec:TMR-2
@test "TMR-2: the alarm type selects SIGALRM, SIGVTALRM or SIGPROF" {
  run_probe alarm-carry 1000000 1
  json_is '.ok == true and .signal == 26 and .interval_sec == 1'
  run_probe alarm-carry 1000000 2
  json_is '.ok == true and .signal == 27'
}

# bats test_tags=spec:TMR-4
@test "TMR-4: a forked child starts with no timers, no alarm and no handlers" {
  run_probe fork-clean
  json_is '.child_timers == 0 and .child_alarm == false and .child_handlers == 0'
}
