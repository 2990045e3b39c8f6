<?php
// Process\Pool probes (POOL-3, POOL-4, POOL-6). Each pool runs in a child (its "manager" is that
// child), reports through a state file, and is bounded by a deadline.
declare(strict_types=1);

use Swoole\Process;
use Swoole\Process\Pool;

function state_lines(string $file): array
{
    clearstatcache();
    return array_values(array_filter(explode("\n", (string) @file_get_contents($file))));
}

// Worker 0 SIGKILLs itself on its first start; its replacement records its pid and stops the
// pool. PHP's Pool has no WorkerError event, so the exit signal is read from the manager's log
// line "worker(pid=…, id=…) abnormal exit, status=…, signal=N".
function probe_pool_restart(array $args): int
{
    $state = tempnam(sys_get_temp_dir(), 'procspec-pool-');
    $log = tempnam(sys_get_temp_dir(), 'procspec-pool-log-');
    $manager = sw_start(static function () use ($state, $log): int {
        $pool = new Pool(1);
        $pool->set(['max_wait_time' => 1, 'log_file' => $log]);
        $pool->on('WorkerStart', static function (Pool $pool, int $id) use ($state): void {
            file_put_contents($state, "$id " . getmypid() . "\n", FILE_APPEND);
            $starts = count(state_lines($state));
            if ($starts === 1) {
                Process::kill(getmypid(), SIGKILL);
            }
            if ($starts === 2) {
                $pool->shutdown();
            }
            for ($i = 0; $i < 10; $i++) {
                sleep(1);
            }
        });
        $pool->start();
        return 0;
    });
    sw_reap($manager->pid, 20.0);
    $starts = array_map(static fn (string $line) => array_map('intval', explode(' ', $line)), state_lines($state));
    $signal = preg_match('/abnormal exit.*signal=(\d+)/', (string) file_get_contents($log), $m) === 1 ? (int) $m[1] : null;
    unlink($state);
    unlink($log);
    emit(['id' => $starts[1][0] ?? null, 'old_pid' => $starts[0][1] ?? null, 'new_pid' => $starts[1][1] ?? null,
          'exit_signal' => $signal]);
    return 0;
}

function is_zombie(int $pid): bool
{
    $stat = @file_get_contents("/proc/$pid/stat");
    return is_string($stat) && preg_match('/^\d+ \(.*\) Z /s', $stat) === 1;
}

// The last worker to start stops the pool; after start() returns, the manager counts its workers
// left as zombies (POOL-4: Swoole reaps only worker #0).
function probe_pool_shutdown(array $args): int
{
    $n = int_arg($args, 0);
    if ($n === null || $n < 1) {
        return usage_error('probe pool-shutdown N');
    }
    $state = tempnam(sys_get_temp_dir(), 'procspec-pool-');
    $manager = sw_start(static function () use ($n, $state): int {
        $pool = new Pool($n);
        $pool->set(['max_wait_time' => 1, 'log_file' => '/dev/stderr']);
        $pool->on('WorkerStart', static function (Pool $pool, int $id) use ($n, $state): void {
            file_put_contents($state, getmypid() . "\n", FILE_APPEND);
            if (count(state_lines($state)) === $n) {
                $pool->shutdown();
            }
            for ($i = 0; $i < 10; $i++) {
                sleep(1);
            }
        });
        $pool->on('Shutdown', static function () use ($state): void {
            file_put_contents($state, "shutdown\n", FILE_APPEND);
        });
        $pool->start();
        $lines = state_lines($state);
        $pids = array_unique(array_map('intval', array_filter($lines, 'ctype_digit')));
        $zombies = count(array_filter($pids, 'is_zombie'));
        emit(['reaped' => count($pids) - $zombies, 'zombies' => $zombies,
              'shutdown_ran' => in_array('shutdown', $lines, true)]);
        return 0;
    });
    sw_reap($manager->pid, 20.0);
    unlink($state);
    return 0;
}

// POOL-6: sendMessage to worker 99 of a one-worker pool. If the call kills the worker, its
// replacement finds "attempt" without a result and stops the pool; the probe then reports it.
function probe_pool_send_missing(array $args): int
{
    $state = tempnam(sys_get_temp_dir(), 'procspec-pool-');
    $manager = sw_start(static function () use ($state): int {
        $pool = new Pool(1, SWOOLE_IPC_UNIXSOCK);
        $pool->set(['max_wait_time' => 1, 'log_file' => '/dev/stderr']);
        $pool->on('Message', static function (): void {
        });
        $pool->on('WorkerStart', static function (Pool $pool, int $id) use ($state): void {
            if (state_lines($state) !== []) {
                $pool->shutdown();
                return;
            }
            file_put_contents($state, "attempt\n");
            Warnings::take();
            $ok = $pool->sendMessage('x', 99);
            file_put_contents($state, json_encode(['ok' => $ok, 'caller_alive' => true, 'warned' => Warnings::take()]) . "\n",
                              FILE_APPEND);
            $pool->shutdown();
        });
        $pool->start();
        return 0;
    });
    sw_reap($manager->pid, 20.0);
    $lines = state_lines($state);
    unlink($state);
    emit(isset($lines[1]) ? json_decode($lines[1], true) : ['ok' => false, 'caller_alive' => false]);
    return 0;
}
