# SPEC MQ through the driver's probes (black box).
load helpers

# bats test_tags=spec:MQ-1
@test "MQ-1: in mode 1 a second process cannot pop the first one's message" {
  run_probe queue-modes 1
  json_is '.popped_by_other == false'
}

# bats test_tags=spec:MQ-1
@test "MQ-1: in mode 2 a second process pops the first one's message" {
  run_probe queue-modes 2
  json_is '.popped_by_other == true'
}

# bats test_tags=spec:MQ-2
@test "MQ-2: a message of exactly msgmax bytes is accepted" {
  msgmax=$(cat /proc/sys/kernel/msgmax)
  run_probe queue-push "$msgmax"
  json_is ".ok == true and .msgmax == $msgmax"
}

# bats test_tags=spec:MQ-2
@test "MQ-2: a message above msgmax is an error" {
  msgmax=$(cat /proc/sys/kernel/msgmax)
  run_probe queue-push "$((msgmax + 1))"
  json_is '.ok == false and (.errno | type == "string")'
}

# bats test_tags=spec:MQ-2
@test "MQ-2: an empty message is an error" {
  run_probe queue-push 0
  json_is '.ok == false'
}

# bats test_tags=spec:MQ-3
@test "MQ-3: a non-blocking push on a full queue fails with EAGAIN, not a warning" {
  run_probe queue-nowait full
  json_is '.ok == false and .errno == "EAGAIN" and .warned == false'
}

# bats test_tags=spec:MQ-3
@test "MQ-3: a non-blocking pop on an empty queue fails with ENOMSG, not a warning" {
  run_probe queue-nowait empty
  json_is '.ok == false and .errno == "ENOMSG" and .warned == false'
}
