# SPEC TMR: timers and alarm, through the IUT driver.
load helpers

# bats test_tags=spec:TMR-1
@test "TMR-1: after() timers fire in deadline order" {
  run_probe timer-order 30 10 20 1
  json_is '.fired == [1, 10, 20, 30]'
}

# bats test_tags=spec:TMR-1
@test "TMR-1: a shorter timer added last still fires first" {
  run_probe timer-order 5 5 5 2
  json_is '.fired == [2, 5, 5, 5]'
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
