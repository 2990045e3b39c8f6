<?php
// Swoole\Process helpers shared by the Swoole driver's probes.
declare(strict_types=1);

use Swoole\Process;

// Starts a child running $fn (no pipe unless asked); its return value is the exit code.
function sw_start(callable $fn, bool $redirect = false, int $pipeType = 0): Process
{
    $process = new Process(static function (Process $self) use ($fn): void {
        $code = $fn($self);
        $self->exit(is_int($code) ? $code : 0);
    }, $redirect, $pipeType);
    if ($process->start() === false) {
        fwrite(STDERR, "swoole driver: Process::start failed\n");
        exit(1);
    }
    return $process;
}

// Reaps $pid with Process::wait, bounded by $seconds (SIGKILL after that). Returns wait()'s array
// (pid, code, signal) or null.
function sw_reap(int $pid, float $seconds = 5.0): ?array
{
    $deadline = microtime(true) + $seconds;
    while (microtime(true) < $deadline) {
        $r = Process::wait(false);
        if (is_array($r) && $r['pid'] === $pid) {
            return $r;
        }
        if ($r === false) {
            usleep(2000);
        }
    }
    Process::kill($pid, SIGKILL);
    $r = Process::wait(true);
    return is_array($r) ? $r : null;
}

// A SysV key for this run only: probes running side by side never share a queue.
function sw_queue_key(): int
{
    return 0x50530000 | (getmypid() & 0xffff);
}

function sw_errno(): ?string
{
    return errno_name(swoole_errno());
}
