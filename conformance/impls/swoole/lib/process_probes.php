<?php
// Process, wait/kill and message-queue probes (WAIT-*, PRC-*, MQ-*) on Swoole\Process.
declare(strict_types=1);

use Swoole\Process;

function probe_wait_exit(array $args): int
{
    $code = int_arg($args, 0);
    if ($code === null) {
        return usage_error('probe wait-exit CODE');
    }
    sw_start(static fn () => $code);
    $r = Process::wait(true);
    emit(['pid' => $r['pid'], 'code' => $r['code'], 'signal' => $r['signal']]);
    return 0;
}

function probe_wait_signal(array $args): int
{
    $sig = signal_arg($args, 0);
    if ($sig === null) {
        return usage_error('probe wait-signal SIG');
    }
    $child = sw_start(static function (): int {
        sleep(30);
        return 0;
    });
    Process::kill($child->pid, $sig);
    $r = Process::wait(true);
    emit(['pid' => $r['pid'], 'code' => $r['code'], 'signal' => $r['signal']]);
    return 0;
}

function probe_wait_nohang(array $args): int
{
    $child = sw_start(static function (): int {
        sleep(30);
        return 0;
    });
    Warnings::take();
    $r = Process::wait(false);
    $fields = ['result' => $r === false ? 'none' : $r['pid'], 'warned' => Warnings::take()];
    Process::kill($child->pid, SIGKILL);
    sw_reap($child->pid);
    emit($fields);
    return 0;
}

function probe_wait_nochild(array $args): int
{
    Warnings::take();
    $r = Process::wait(true);
    emit(['result' => $r === false ? 'none' : $r['pid'], 'errno' => sw_errno(), 'warned' => Warnings::take()]);
    return 0;
}

// SIGUSR1 lands while the parent blocks in Process::wait. By default the handler goes through a
// signalfd (the signal is blocked, wait is not interrupted, the callback runs when the event loop
// does); the extra field repeats it with enable_signalfd off, where waitpid sees EINTR and 6.x
// returns false (WAIT-4's documented difference).
function probe_wait_eintr(array $args): int
{
    $parent = getmypid();
    $ran = false;
    Process::signal(SIGUSR1, static function () use (&$ran): void {
        $ran = true;
    });
    $child = sw_start(static function () use ($parent): int {
        usleep(100000);
        Process::kill($parent, SIGUSR1);
        usleep(200000);
        return 0;
    });
    $r = Process::wait(true);
    $fields = is_array($r) ? ['pid' => $r['pid'], 'code' => $r['code'], 'signal' => $r['signal']]
                           : ['pid' => -1, 'errno' => sw_errno()];
    if (!is_array($r) || $r['pid'] !== $child->pid) {
        sw_reap($child->pid);
    }
    $fields['handler_ran'] = $ran;
    Process::signal(SIGUSR1, null);
    // Without signalfd, in a fresh child so the first registration does not carry over.
    $probe = sw_start(static function (): int {
        swoole_async_set(['enable_signalfd' => false]);
        $me = getmypid();
        Process::signal(SIGUSR1, static function (): void {
        });
        $kicker = sw_start(static function () use ($me): int {
            usleep(100000);
            Process::kill($me, SIGUSR1);
            usleep(200000);
            return 0;
        });
        $r = Process::wait(true);
        $code = is_array($r) ? 0 : (swoole_errno() === 4 ? 4 : 1);
        sw_reap($kicker->pid);
        return $code;
    });
    $r = sw_reap($probe->pid);
    $fields['without_signalfd'] = match ($r['code'] ?? -1) {
        0 => 'retried', 4 => 'EINTR', default => 'error',
    };
    emit($fields);
    return 0;
}

function probe_kill_missing(array $args): int
{
    $sig = signal_arg($args, 0) ?? 15; // default SIGTERM
    $child = sw_start(static fn () => 0);
    sw_reap($child->pid); // its pid now names no process
    Warnings::take();
    $ok = Process::kill($child->pid, $sig);
    emit(['ok' => $ok, 'errno' => $ok ? null : sw_errno(), 'warned' => Warnings::take()]);
    return 0;
}

function pipe_type_arg(array $args): ?int
{
    $type = int_arg($args, 0);
    return ($type === 1 || $type === 2) ? $type : null;
}

// procspec's pipe types 3 (uds_batch) and 4 (shm_ring), by number or name: Swoole has neither.
function beyond_swoole_pipe(array $args): bool
{
    return in_array($args[0] ?? '', ['3', '4', 'uds_batch', 'shm_ring'], true);
}

function probe_pipe_boundaries(array $args): int
{
    if (beyond_swoole_pipe($args)) {
        return unsupported('Swoole\Process has pipe types 1 (stream) and 2 (dgram) only');
    }
    $type = pipe_type_arg($args);
    if ($type === null) {
        return usage_error('probe pipe-boundaries 1|2');
    }
    $child = sw_start(static function (Process $self): int {
        for ($i = 0; $i < 3; $i++) {
            $self->write('AAAAA');
        }
        usleep(300000); // stay alive until the parent has read
        return 0;
    }, false, $type);
    usleep(100000); // let all three writes land before the first read
    $child->setTimeout(2.0);
    $reads = [];
    for ($total = 0; $total < 15;) {
        $data = $child->read();
        if (!is_string($data) || $data === '') {
            break;
        }
        $reads[] = $data;
        $total += strlen($data);
    }
    sw_reap($child->pid);
    emit(['reads' => $reads]);
    return 0;
}

function probe_pipe_oversize(array $args): int
{
    if (beyond_swoole_pipe($args)) {
        return unsupported('Swoole\Process has pipe types 1 (stream) and 2 (dgram) only');
    }
    $type = pipe_type_arg($args);
    $bytes = int_arg($args, 1);
    if ($type === null || $bytes === null || $bytes < 1) {
        return usage_error('probe pipe-oversize 1|2 BYTES');
    }
    $child = sw_start(static function (Process $self) use ($bytes): int {
        return $self->write(str_repeat('x', $bytes)) === $bytes ? 0 : 1;
    }, false, $type);
    $first = $child->read(); // the default size, 8192
    $read = is_string($first) ? strlen($first) : 0;
    $total = $read;
    $child->setTimeout(0.3);
    while ($total < $bytes && is_string($more = $child->read()) && $more !== '') {
        $total += strlen($more);
    }
    $status = sw_reap($child->pid);
    emit(['write_ok' => ($status['code'] ?? 1) === 0 && ($status['signal'] ?? 1) === 0, 'read_bytes' => $read,
          'lost_bytes' => $bytes - $total, 'errno' => $first === false ? sw_errno() : null]);
    return 0;
}

function probe_redirect_stdio(array $args): int
{
    $child = sw_start(static function (): int {
        echo "hello\n";
        return 0;
    }, true);
    $child->setTimeout(2.0);
    $read = $child->read();
    sw_reap($child->pid);
    emit(['read' => is_string($read) ? $read : null]);
    return 0;
}

// The parent never sees end-of-file on a Swoole pipe (neither side closes the other's end), so
// the output is read until a 1 s read timeout.
function probe_exec(array $args): int
{
    if (count($args) < 1) {
        return usage_error('probe exec PATH ARG...');
    }
    $path = $args[0];
    $child = sw_start(static function (Process $self) use ($path, $args): int {
        $self->exec($path, array_slice($args, 1));
        return 127;
    }, true);
    $child->setTimeout(1.0);
    $output = '';
    while (is_string($data = $child->read()) && $data !== '') {
        $output .= $data;
    }
    $status = sw_reap($child->pid, 10.0);
    emit(['ok' => $status !== null && $status['code'] === 0 && $status['signal'] === 0, 'output' => $output]);
    return 0;
}

function queue_process(int $mode): Process
{
    $process = new Process(static function (): void {
    }, false, 0);
    $process->useQueue(sw_queue_key(), $mode | Process::IPC_NOWAIT);
    return $process;
}

function probe_queue_push(array $args): int
{
    $bytes = int_arg($args, 0);
    if ($bytes === null || $bytes < 0) {
        return usage_error('probe queue-push BYTES');
    }
    $process = queue_process(2);
    Warnings::take();
    $ok = $process->push(str_repeat('x', $bytes));
    $fields = ['ok' => $ok, 'errno' => $ok ? null : sw_errno(), 'warned' => Warnings::take(), 'msgmax' => msgmax()];
    $process->freeQueue();
    emit($fields);
    return 0;
}

function probe_queue_nowait(array $args): int
{
    $which = $args[0] ?? '';
    if ($which !== 'full' && $which !== 'empty') {
        return usage_error('probe queue-nowait full|empty');
    }
    $process = queue_process(2);
    if ($which === 'full') {
        $chunk = str_repeat('x', min(msgmax(), 4096));
        for ($i = 0; $i < 100000 && $process->push($chunk); $i++) {
        }
        Warnings::take();
        $ok = $process->push($chunk);
    } else {
        Warnings::take();
        $ok = $process->pop() !== false;
    }
    $fields = ['ok' => $ok, 'errno' => $ok ? null : sw_errno(), 'warned' => Warnings::take()];
    $process->freeQueue();
    emit($fields);
    return 0;
}

// Two Process objects on one key: ids 1 and 2 tag their messages id+1; mode 1 pops only its own.
function probe_queue_modes(array $args): int
{
    $mode = int_arg($args, 0);
    if ($mode !== 1 && $mode !== 2) {
        return usage_error('probe queue-modes 1|2');
    }
    $sender = queue_process($mode);
    $other = queue_process($mode);
    $sender->push('hello');
    $popped = $other->pop() !== false;
    $sender->freeQueue();
    emit(['popped_by_other' => $popped]);
    return 0;
}
