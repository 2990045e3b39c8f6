<?php
// pcntl's process helpers shared by the probes and the echo-server.
declare(strict_types=1);

// Reaps $pid, bounded by $seconds; kills it first if it does not end in time. Returns the wait
// status or null.
function reap(int $pid, float $seconds = 5.0): ?int
{
    $deadline = microtime(true) + $seconds;
    while (microtime(true) < $deadline) {
        $r = pcntl_waitpid($pid, $status, WNOHANG);
        if ($r === $pid) {
            return $status;
        }
        if ($r < 0 && pcntl_get_last_error() !== PCNTL_EINTR) {
            return null;
        }
        usleep(2000);
    }
    posix_kill($pid, SIGKILL);
    pcntl_waitpid($pid, $status);
    return $status;
}

// Forks a child that runs $fn and exits with its return value (0 if none). The child never
// returns into the caller's code.
function fork_child(callable $fn): int
{
    $pid = pcntl_fork();
    if ($pid < 0) {
        fwrite(STDERR, "pcntl driver: fork failed: " . pcntl_strerror(pcntl_get_last_error()) . "\n");
        exit(1);
    }
    if ($pid === 0) {
        $code = $fn();
        exit(is_int($code) ? $code : 0);
    }
    return $pid;
}

function status_fields(int $pid, int $status): array
{
    return [
        'pid' => $pid,
        'code' => pcntl_wifexited($status) ? pcntl_wexitstatus($status) : 0,
        'signal' => pcntl_wifsignaled($status) ? pcntl_wtermsig($status) : 0,
    ];
}
