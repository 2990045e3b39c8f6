<?php
// The pcntl driver's probes (SPEC IUT table). Each returns the driver's exit status.
declare(strict_types=1);

function probe_wait_exit(array $args): int
{
    $code = int_arg($args, 0);
    if ($code === null) {
        return usage_error('probe wait-exit CODE');
    }
    $pid = fork_child(static fn () => $code);
    $r = pcntl_wait($status);
    emit(status_fields($r, $status));
    return 0;
}

function probe_wait_signal(array $args): int
{
    $sig = signal_arg($args, 0);
    if ($sig === null) {
        return usage_error('probe wait-signal SIG');
    }
    $pid = fork_child(static function (): int {
        sleep(30);
        return 0;
    });
    posix_kill($pid, $sig);
    $r = pcntl_wait($status);
    emit(status_fields($r, $status));
    return 0;
}

function probe_wait_nohang(array $args): int
{
    $pid = fork_child(static function (): int {
        sleep(30);
        return 0;
    });
    Warnings::take();
    $r = pcntl_wait($status, WNOHANG);
    $fields = ['result' => $r === 0 ? 'none' : $r, 'warned' => Warnings::take()];
    posix_kill($pid, SIGKILL);
    reap($pid);
    emit($fields);
    return 0;
}

function probe_wait_nochild(array $args): int
{
    Warnings::take();
    $r = pcntl_wait($status);
    emit([
        'result' => $r === -1 ? 'none' : $r,
        'errno' => errno_name(pcntl_get_last_error()),
        'warned' => Warnings::take(),
    ]);
    return 0;
}

// One wait() with SIGUSR1 landing while it blocks. Returns [wait's result, errno, handler ran].
function wait_with_signal(bool $restart_syscalls): array
{
    $ran = false;
    pcntl_signal(SIGUSR1, static function () use (&$ran): void {
        $ran = true;
    }, $restart_syscalls);
    $pid = fork_child(static function (): int {
        usleep(100000);
        posix_kill(posix_getppid(), SIGUSR1);
        usleep(200000);
        return 0;
    });
    $r = pcntl_wait($status);
    $errno = $r < 0 ? pcntl_get_last_error() : 0;
    $result = [$r, $status, $errno, $ran];
    if ($r !== $pid) {
        reap($pid);
    }
    pcntl_signal(SIGUSR1, SIG_DFL);
    return $result;
}

// pcntl_signal installs handlers with SA_RESTART by default (its third argument), so the kernel
// restarts wait4 and pcntl_wait itself never sees EINTR; with restart_syscalls=false it returns -1
// (EINTR) and the caller must loop — reported as an extra field, the default is what users get.
function probe_wait_eintr(array $args): int
{
    pcntl_async_signals(true);
    [$r, $status, $errno, $ran] = wait_with_signal(true);
    $fields = $r > 0 ? status_fields($r, $status) : ['pid' => $r, 'errno' => errno_name($errno)];
    $fields['handler_ran'] = $ran;
    $fields['restart_syscalls'] = true;
    [$r2, , $errno2] = wait_with_signal(false);
    $fields['without_sa_restart'] = $r2 > 0 ? 'retried' : errno_name($errno2);
    emit($fields);
    return 0;
}

// A pid that exists no more: a child that has been reaped (pids are not reused that fast).
function missing_pid(): int
{
    $pid = fork_child(static fn () => 0);
    pcntl_waitpid($pid, $status);
    return $pid;
}

function probe_kill_missing(array $args): int
{
    $sig = signal_arg($args, 0) ?? 15; // default SIGTERM
    $pid = missing_pid();
    Warnings::take();
    $ok = posix_kill($pid, $sig);
    emit(['ok' => $ok, 'errno' => errno_name(posix_get_last_error()), 'warned' => Warnings::take()]);
    return 0;
}

function probe_queue_push(array $args): int
{
    $bytes = int_arg($args, 0);
    if ($bytes === null || $bytes < 0) {
        return usage_error('probe queue-push BYTES');
    }
    $queue = msg_get_queue(0, 0600); // key 0 = IPC_PRIVATE: nothing to collide with, removed below
    Warnings::take();
    $ok = msg_send($queue, 1, str_repeat('x', $bytes), false, false, $err);
    $fields = ['ok' => $ok, 'errno' => $ok ? null : errno_name($err), 'warned' => Warnings::take(), 'msgmax' => msgmax()];
    msg_remove_queue($queue);
    emit($fields);
    return 0;
}

function probe_queue_nowait(array $args): int
{
    $which = $args[0] ?? '';
    if ($which !== 'full' && $which !== 'empty') {
        return usage_error('probe queue-nowait full|empty');
    }
    $queue = msg_get_queue(0, 0600);
    if ($which === 'full') {
        $chunk = str_repeat('x', min(msgmax(), 4096));
        for ($i = 0; $i < 100000 && msg_send($queue, 1, $chunk, false, false, $err); $i++) {
        }
        Warnings::take(); // the fill loop's last send is the one measured below, repeat it
        $ok = msg_send($queue, 1, $chunk, false, false, $err);
    } else {
        Warnings::take();
        $ok = msg_receive($queue, 0, $type, 65536, $message, false, MSG_IPC_NOWAIT, $err);
    }
    $fields = ['ok' => $ok, 'errno' => $ok ? null : errno_name($err), 'warned' => Warnings::take()];
    msg_remove_queue($queue);
    emit($fields);
    return 0;
}

// MQ-1 modes expressed with SysV message types, as Swoole's Process does: each process tags its
// messages with id+1; mode 1 pops only its own type, mode 2 pops type 0 (any).
function probe_queue_modes(array $args): int
{
    $mode = int_arg($args, 0);
    if ($mode !== 1 && $mode !== 2) {
        return usage_error('probe queue-modes 1|2');
    }
    $key = ftok(__FILE__, 'm') ^ getmypid();
    $queue = msg_get_queue($key, 0600);
    $sender = fork_child(static function () use ($key): int {
        return msg_send(msg_get_queue($key, 0600), 1 + 1, 'hello', false, true) ? 0 : 1; // id 1
    });
    pcntl_waitpid($sender, $status);
    $popper = fork_child(static function () use ($key, $mode): int {
        $type = $mode === 1 ? 2 + 1 : 0; // id 2
        return msg_receive(msg_get_queue($key, 0600), $type, $t, 65536, $m, false, MSG_IPC_NOWAIT) ? 0 : 1;
    });
    pcntl_waitpid($popper, $status);
    msg_remove_queue($queue);
    emit(['popped_by_other' => pcntl_wifexited($status) && pcntl_wexitstatus($status) === 0]);
    return 0;
}

// pcntl has no roles; only `plain` exists. The registration runs in a child because pcntl_signal
// on an uncatchable signal (SIGKILL, SIGSTOP) is a fatal error that ends the calling process.
function signal_probe(string $probe, array $args, callable $act): int
{
    $role = $args[0] ?? '';
    $sig = signal_arg($args, 1);
    if ($role === '' || $sig === null) {
        return usage_error("probe $probe ROLE SIG");
    }
    if ($role !== 'plain') {
        return unsupported("pcntl has no '$role' role: there is no server or pool, only plain processes");
    }
    $child = fork_child(static function () use ($role, $sig, $act): int {
        register_shutdown_function(static function () use ($role, $sig): void {
            $error = error_get_last();
            if ($error !== null && $error['type'] === E_ERROR) {
                emit(['role' => $role, 'signal' => $sig, 'ok' => false, 'warned' => true,
                      'role_alive' => false, 'message' => 'PHP Fatal error: ' . $error['message']]);
            }
        });
        Warnings::take();
        try {
            $ok = $act($sig);
            $error = null;
        } catch (\ValueError $e) {
            $ok = false;
            $error = $e->getMessage();
        }
        $message = $error ?? Warnings::lastMessage();
        $fields = ['role' => $role, 'signal' => $sig, 'ok' => $ok, 'warned' => Warnings::take(), 'role_alive' => true];
        if ($message !== null) {
            $fields['message'] = $message;
        }
        emit($fields);
        return 0;
    });
    reap($child);
    return 0;
}

function probe_signal_register(array $args): int
{
    return signal_probe('signal-register', $args, static fn (int $sig) => pcntl_signal($sig, static function (): void {
    }));
}

// "Unregister" in pcntl is restoring SIG_DFL; pcntl keeps no notion of "was registered", so
// removing a handler that never existed succeeds.
function probe_signal_unregister(array $args): int
{
    $registered = ($args[2] ?? '') === 'registered';
    return signal_probe('signal-unregister', $args, static function (int $sig) use ($registered) {
        if ($registered && !pcntl_signal($sig, static function (): void {
        })) {
            return false;
        }
        Warnings::take();
        return pcntl_signal($sig, SIG_DFL);
    });
}

// pcntl_exec replaces the image of a forked child; pcntl cannot redirect stdio, so the output is
// captured by the POSIX lowest-free-fd rule (close fd 1, the next open file becomes fd 1).
function probe_exec(array $args): int
{
    if (count($args) < 1) {
        return usage_error('probe exec PATH ARG...');
    }
    $path = $args[0];
    $out = tempnam(sys_get_temp_dir(), 'procspec-exec-');
    $pid = fork_child(static function () use ($path, $args, $out): int {
        fclose(STDOUT);
        $fd1 = fopen($out, 'w');
        pcntl_exec($path, array_slice($args, 1));
        return 127; // exec failed; pcntl_exec already warned
    });
    $status = reap($pid, 10.0);
    $output = (string) file_get_contents($out);
    unlink($out);
    $ok = $status !== null && pcntl_wifexited($status) && pcntl_wexitstatus($status) === 0;
    emit(['ok' => $ok, 'output' => $output]);
    return 0;
}

// SIG-6: PHP runs pcntl handlers from the VM (pcntl_async_signals), never in the signal context.
function probe_signal_wait(array $args): int
{
    $sig = signal_arg($args, 0);
    if ($sig === null) {
        return usage_error('probe signal-wait SIG');
    }
    $ran = false;
    pcntl_async_signals(true);
    pcntl_signal($sig, static function (int $signo) use (&$ran): void {
        $ran = true;
    });
    emit(['ready' => true, 'pid' => getmypid()]);
    for ($deadline = microtime(true) + 15; !$ran && microtime(true) < $deadline;) {
        usleep(10000);
    }
    emit(['handler_ran' => $ran, 'signal' => $sig]);
    return $ran ? 0 : 1;
}

// TMR-4 with what pcntl has: a pending pcntl_alarm and a pcntl_signal handler in the parent, then
// what a forked child inherits. pcntl has no timers (child_timers is 0 by construction).
function probe_fork_clean(array $args): int
{
    pcntl_signal(SIGUSR1, static function (): void {
    });
    pcntl_alarm(100);
    $child = fork_child(static function (): int {
        $handlers = 0;
        for ($sig = 1; $sig < 32; $sig++) { // pcntl_signal_get_handler accepts 1..31 only
            if ($sig !== SIGKILL && $sig !== SIGSTOP && is_callable(@pcntl_signal_get_handler($sig))) {
                $handlers++;
            }
        }
        emit(['child_timers' => 0, 'child_alarm' => pcntl_alarm(0) > 0, 'child_handlers' => $handlers]);
        return 0;
    });
    reap($child);
    pcntl_alarm(0);
    return 0;
}
