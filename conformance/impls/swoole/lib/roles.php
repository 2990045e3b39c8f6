<?php
// signal-register / signal-unregister (SIG-1..5, SIG-7): Process::signal called inside a process of
// each role. The role's process writes its result to a file; if it dies first, nothing is written
// and the probe reports role_alive=false.
declare(strict_types=1);

use Swoole\Process;
use Swoole\Process\Pool;
use Swoole\Server;

const ROLES = ['plain', 'master', 'manager', 'worker', 'task_worker', 'user', 'pool_worker'];

// Runs $action in a process of $role (in a child, bounded by 20 s) and returns its fields or null.
function in_role(string $role, callable $action): ?array
{
    $file = tempnam(sys_get_temp_dir(), 'procspec-role-');
    $host = sw_start(static function () use ($role, $action, $file): int {
        host_role($role, static function () use ($action, $file): void {
            if (filesize($file) > 0) {
                return; // a restarted worker: the first report stands
            }
            Warnings::take();
            $fields = $action();
            usleep(200000); // a crash caused by the call shows up before the report
            $fields['role_alive'] = true;
            file_put_contents($file, json_encode($fields) . "\n");
        });
        return 0;
    });
    sw_reap($host->pid, 20.0);
    clearstatcache();
    $text = (string) file_get_contents($file);
    unlink($file);
    return $text === '' ? null : json_decode(trim($text), true);
}

function role_server(): Server
{
    $server = new Server('127.0.0.1', 0, SWOOLE_PROCESS, SWOOLE_SOCK_TCP);
    $server->set(['worker_num' => 1, 'max_wait_time' => 1, 'log_file' => '/dev/stderr']);
    $server->on('Receive', static function (): void {
    });
    return $server;
}

function host_role(string $role, callable $report): void
{
    if ($role === 'plain') {
        $report();
        return;
    }
    if ($role === 'pool_worker') {
        $pool = new Pool(1);
        $pool->set(['max_wait_time' => 1, 'log_file' => '/dev/stderr']);
        $pool->on('WorkerStart', static function (Pool $pool, int $id) use ($report): void {
            $report();
            $pool->shutdown();
            for ($i = 0; $i < 10; $i++) {
                sleep(1); // SIGTERM from the pool ends it (or SIGKILL after max_wait_time)
            }
        });
        $pool->start();
        return;
    }
    $server = role_server();
    $stop = static function (Server $server): void {
        Process::kill($server->master_pid, SIGTERM);
    };
    match ($role) {
        'master' => $server->on('Start', static function (Server $server) use ($report, $stop): void {
            $report();
            $stop($server);
        }),
        'manager' => $server->on('ManagerStart', static function (Server $server) use ($report, $stop): void {
            $report();
            $stop($server);
        }),
        'worker', 'task_worker' => $server->on('WorkerStart', static function (Server $server, int $id) use ($role, $report, $stop): void {
            if ($server->taskworker === ($role === 'task_worker')) {
                $report();
                $stop($server);
            }
        }),
        'user' => $server->addProcess(new Process(static function () use ($server, $report, $stop): void {
            $report();
            $stop($server);
            for ($i = 0; $i < 10; $i++) {
                sleep(1);
            }
        }, false, 0)),
    };
    if ($role === 'task_worker') {
        $server->set(['task_worker_num' => 1]);
        $server->on('Task', static function (): void {
        });
        $server->on('Finish', static function (): void {
        });
    }
    $server->start();
}

function signal_probe(string $probe, array $args, callable $act): int
{
    $role = $args[0] ?? '';
    $sig = signal_arg($args, 1);
    if (!in_array($role, ROLES, true) || $sig === null) {
        return usage_error("probe $probe ROLE SIG  (ROLE: " . implode(', ', ROLES) . ')');
    }
    $fields = in_role($role, static function () use ($sig, $act): array {
        $ok = $act($sig);
        $message = Warnings::lastMessage();
        return ['ok' => $ok, 'warned' => Warnings::take(), 'message' => $message];
    });
    emit(['role' => $role, 'signal' => $sig] + ($fields ?? ['ok' => false, 'role_alive' => false]));
    return 0;
}

function probe_signal_register(array $args): int
{
    return signal_probe('signal-register', $args, static fn (int $sig): bool => Process::signal($sig, static function (): void {
    }));
}

function probe_signal_unregister(array $args): int
{
    $registered = ($args[2] ?? '') === 'registered';
    return signal_probe('signal-unregister', $args, static function (int $sig) use ($registered): bool {
        if ($registered && !Process::signal($sig, static function (): void {
        })) {
            return false;
        }
        Warnings::take();
        return Process::signal($sig, null);
    });
}
