<?php
// Entry point of the Swoole driver (see ../driver). Written from Swoole 6.2's documented API; it
// cannot run where the extension is absent, so there it reports itself unavailable instead.
//
// | probe                       | Swoole API used                                                  |
// | --------------------------- | ---------------------------------------------------------------- |
// | wait-*, kill-missing        | Swoole\Process::start / ::wait / ::kill, swoole_errno()          |
// | pipe-boundaries/-oversize   | Process pipe_type 1 (stream) / 2 (dgram), write(), read() 8192; 3/4 (procspec only) → 77 |
// | redirect-stdio, exec        | Process(redirect_stdin_and_stdout=true), ->exec(path, args)      |
// | queue-push/-nowait/-modes   | ->useQueue(key, mode | Process::IPC_NOWAIT), ->push, ->pop       |
// | signal-register/-unregister | Process::signal in the role's process: plain, Server (PROCESS)   |
// |                             | master/manager/worker/task_worker/addProcess user, Pool worker   |
// | alarm-*, timer-*            | Process::alarm, Swoole\Timer::after / ::clear, Swoole\Event::wait |
// | alarm-carry                 | Process::alarm(usec, type), read back with getitimer via ext/ffi |
// | fork-clean, signal-wait     | Timer::list() in a child; Process::signal + Event::wait          |
// | pool-*                      | Swoole\Process\Pool events WorkerStart/Message/Shutdown          |
// | frame                       | a BASE Server with the protocol settings, fed by a client        |
// | echo-server base|process    | Swoole\Server SWOOLE_BASE / SWOOLE_PROCESS; THREAD mode → 77     |
declare(strict_types=1);

require __DIR__ . '/../../php/common.php';

function swoole_unavailable_reason(): ?string
{
    if (extension_loaded('swoole')) {
        return null;
    }
    $ext = getenv('SWOOLE_EXT');
    if (is_string($ext) && $ext !== '') {
        return "SWOOLE_EXT=$ext did not load into " . PHP_BINARY . ' ' . PHP_VERSION;
    }
    return 'the swoole extension is not installed (php -m lists no swoole); '
        . 'set SWOOLE_EXT=/path/to/swoole.so to load one';
}

const PROBES = [
    'wait-exit' => 'probe_wait_exit',
    'wait-signal' => 'probe_wait_signal',
    'wait-nohang' => 'probe_wait_nohang',
    'wait-nochild' => 'probe_wait_nochild',
    'wait-eintr' => 'probe_wait_eintr',
    'kill-missing' => 'probe_kill_missing',
    'pipe-boundaries' => 'probe_pipe_boundaries',
    'pipe-oversize' => 'probe_pipe_oversize',
    'redirect-stdio' => 'probe_redirect_stdio',
    'exec' => 'probe_exec',
    'queue-push' => 'probe_queue_push',
    'queue-nowait' => 'probe_queue_nowait',
    'queue-modes' => 'probe_queue_modes',
    'signal-register' => 'probe_signal_register',
    'signal-unregister' => 'probe_signal_unregister',
    'alarm-after-timer' => 'probe_alarm_after_timer',
    'timer-after-alarm' => 'probe_timer_after_alarm',
    'alarm-clear-after-timer' => 'probe_alarm_clear_after_timer',
    'timer-order' => 'probe_timer_order',
    'alarm-carry' => 'probe_alarm_carry',
    'fork-clean' => 'probe_fork_clean',
    'signal-wait' => 'probe_signal_wait',
    'pool-restart' => 'probe_pool_restart',
    'pool-shutdown' => 'probe_pool_shutdown',
    'pool-send-missing' => 'probe_pool_send_missing',
    'frame' => 'probe_frame',
];

function main(array $argv): int
{
    $GLOBALS['procspec_driver_name'] = 'swoole';
    $verb = $argv[1] ?? '';
    $reason = swoole_unavailable_reason();
    if ($reason !== null) {
        if ($verb === 'info') {
            emit(['name' => 'swoole', 'available' => false, 'reason' => $reason]);
            return 0;
        }
        fwrite(STDERR, "swoole driver: unavailable: $reason\n");
        return EXIT_UNSUPPORTED;
    }
    Warnings::install();
    // Swoole's own log (not PHP warnings) goes to stdout by default; stdout carries the JSON lines.
    swoole_async_set(['log_file' => '/dev/stderr']);
    require __DIR__ . '/process.php';
    require __DIR__ . '/process_probes.php';
    require __DIR__ . '/roles.php';
    require __DIR__ . '/timer_probes.php';
    require __DIR__ . '/pool_probes.php';
    require __DIR__ . '/server.php';

    if ($verb === 'info') {
        $modes = ['base', 'process'];
        emit(['name' => 'swoole', 'version' => phpversion('swoole') ?: SWOOLE_VERSION, 'available' => true,
              'modes' => $modes, 'ipc' => ['uds-dgram'], 'probes' => array_keys(PROBES)]);
        return 0;
    }
    if ($verb === 'probe' && isset($argv[2])) {
        $name = $argv[2];
        if (!isset(PROBES[$name])) {
            return unsupported("unknown probe '$name' (see `driver info`)");
        }
        return (PROBES[$name])(array_slice($argv, 3));
    }
    if ($verb === 'echo-server') {
        return echo_server(array_slice($argv, 2));
    }
    fwrite(STDERR, "usage: driver info\n       driver probe NAME [ARGS...]\n"
        . "       driver echo-server --mode base|process --workers N --framing SPEC --ipc CHANNEL\n");
    return EXIT_USAGE;
}

$status = main($argv);
// Run (and so end) an event loop a probe created, instead of PHP's deprecated implicit one at shutdown.
if (class_exists(\Swoole\Event::class, false)) {
    \Swoole\Event::wait();
}
exit($status);
