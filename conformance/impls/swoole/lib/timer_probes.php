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
