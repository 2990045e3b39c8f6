<?php
// Timer and alarm probes (TMR-1, TMR-3) on Swoole\Timer and Process::alarm.
declare(strict_types=1);

use Swoole\Event;
use Swoole\Process;
use Swoole\Timer;

const FAR_MS = 10000; // a timer that exists during the probe and never fires

function probe_alarm_after_timer(array $args): int
{
    $id = Timer::after(FAR_MS, static function (): void {
    });
    Warnings::take();
    $ok = Process::alarm(1000000);
    $message = Warnings::lastMessage();
    $fields = ['ok' => $ok, 'warned' => Warnings::take(), 'message' => $message];
    Timer::clear($id);
    if ($ok) {
        Process::alarm(-1);
    }
    emit($fields);
    return 0;
}

function probe_timer_after_alarm(array $args): int
{
    // SIGALRM's default action would end the driver if the alarm fired before it is cleared.
    Process::signal(SIGALRM, static function (): void {
    });
    Process::alarm(1000000);
    Warnings::take();
    $id = Timer::after(FAR_MS, static function (): void {
    });
    $fields = ['ok' => $id !== false, 'warned' => Warnings::take()];
    if ($id !== false) {
        Timer::clear($id);
    }
    Process::alarm(-1);
    Process::signal(SIGALRM, null);
    emit($fields);
    return 0;
}

function probe_alarm_clear_after_timer(array $args): int
{
    $id = Timer::after(FAR_MS, static function (): void {
    });
    Warnings::take();
    $ok = Process::alarm(0);
    $fields = ['ok' => $ok, 'warned' => Warnings::take()];
    Timer::clear($id);
    emit($fields);
    return 0;
}

function probe_timer_order(array $args): int
{
    $fired = [];
    foreach ($args as $arg) {
        $ms = (int) $arg;
        if ((string) $ms !== $arg) {
            return usage_error('probe timer-order MS...');
        }
        Timer::after($ms, static function () use (&$fired, $ms): void {
            $fired[] = $ms;
        });
    }
    Event::wait(); // runs until no timer is left
    emit(['fired' => $fired]);
    return 0;
}

// getitimer(2) through FFI (bundled with PHP 7.4+, allowed in the CLI): PHP has no API to read an
// interval timer back. Returns [interval_sec, interval_usec, value_sec, value_usec] or null.
function itimer(int $which): ?array
{
    if (!class_exists(\FFI::class)) {
        return null;
    }
    try {
        $ffi = \FFI::cdef('struct timeval { long tv_sec; long tv_usec; };
            struct itimerval { struct timeval it_interval; struct timeval it_value; };
            int getitimer(int which, struct itimerval *value);');
        $value = $ffi->new('struct itimerval');
        if ($ffi->getitimer($which, \FFI::addr($value)) !== 0) {
            return null;
        }
        return [$value->it_interval->tv_sec, $value->it_interval->tv_usec, $value->it_value->tv_sec,
                $value->it_value->tv_usec];
    } catch (\Throwable $e) {
        return null;
    }
}

const ITIMER_SIGNALS = [0 => 14, 1 => 26, 2 => 27]; // ITIMER_REAL, _VIRTUAL, _PROF

// TMR-2: the interval Process::alarm armed, read back with getitimer.
function probe_alarm_carry(array $args): int
{
    $usec = int_arg($args, 0);
    $type = int_arg($args, 1) ?? 0;
    if ($usec === null || !isset(ITIMER_SIGNALS[$type])) {
        return usage_error('probe alarm-carry USEC [0|1|2]');
    }
    if (itimer($type) === null) {
        return unsupported('reading the interval back needs ext/ffi (getitimer); PHP has no API for it');
    }
    Warnings::take();
    $ok = Process::alarm($usec, $type);
    $timer = itimer($type);
    Process::alarm(0, $type);
    emit(['ok' => $ok, 'warned' => Warnings::take(), 'interval_sec' => $timer[0], 'interval_usec' => $timer[1],
          'signal' => ITIMER_SIGNALS[$type]]);
    return 0;
}

// TMR-4: the parent has an alarm, then a timer (Swoole allows that order) and a signal handler;
// the forked Process reports what it inherited. Swoole has no API listing signal handlers, so
// child_handlers is null (not observable), not 0.
function probe_fork_clean(array $args): int
{
    Process::signal(SIGALRM, static function (): void {
    });
    Process::signal(SIGUSR1, static function (): void {
    });
    Process::alarm(100 * 1000000);
    $id = Timer::tick(FAR_MS, static function (): void {
    });
    $child = sw_start(static function (): int {
        $alarm = itimer(0);
        emit(['child_timers' => iterator_count(Timer::list()),
              'child_alarm' => $alarm === null ? null : ($alarm[2] > 0 || $alarm[3] > 0),
              'child_handlers' => null]);
        return 0;
    });
    sw_reap($child->pid);
    Timer::clear($id);
    Process::alarm(-1);
    Process::signal(SIGALRM, null);
    Process::signal(SIGUSR1, null);
    return 0;
}

// SIG-6: prints ready with its pid, runs its event loop until SIG arrives, reports the handler.
function probe_signal_wait(array $args): int
{
    $sig = signal_arg($args, 0);
    if ($sig === null) {
        return usage_error('probe signal-wait SIG');
    }
    $ran = false;
    $guard = Timer::after(15000, static function () use ($sig): void {
        Process::signal($sig, null); // nothing arrived: let the loop end
    });
    Process::signal($sig, static function (int $signo) use (&$ran, $sig, $guard): void {
        $ran = true;
        Timer::clear($guard);
        Process::signal($sig, null);
    });
    emit(['ready' => true, 'pid' => getmypid()]);
    Event::wait();
    emit(['handler_ran' => $ran, 'signal' => $sig]);
    return $ran ? 0 : 1;
}
