<?php
// Shared by the pcntl driver's files: JSON lines, symbolic errno names, warning capture.
declare(strict_types=1);

const EXIT_UNSUPPORTED = 77;
const EXIT_USAGE = 2;

// Linux errno numbers → names. PHP's pcntl/posix/sysvmsg report bare numbers (posix_get_last_error,
// pcntl_get_last_error, msg_send's $error_code); the IUT interface wants the symbolic name.
const ERRNO_NAMES = [
    1 => 'EPERM', 2 => 'ENOENT', 3 => 'ESRCH', 4 => 'EINTR', 5 => 'EIO', 7 => 'E2BIG', 9 => 'EBADF',
    10 => 'ECHILD', 11 => 'EAGAIN', 12 => 'ENOMEM', 13 => 'EACCES', 22 => 'EINVAL', 24 => 'EMFILE',
    28 => 'ENOSPC', 32 => 'EPIPE', 42 => 'ENOMSG', 43 => 'EIDRM', 90 => 'EMSGSIZE', 104 => 'ECONNRESET',
    110 => 'ETIMEDOUT',
];

function errno_name(int $errno): ?string
{
    if ($errno === 0) {
        return null;
    }
    return ERRNO_NAMES[$errno] ?? "E#$errno";
}

function emit(array $fields): void
{
    fwrite(STDOUT, json_encode($fields, JSON_UNESCAPED_SLASHES) . "\n");
}

function unsupported(string $why): int
{
    fwrite(STDERR, "pcntl driver: unsupported: $why\n");
    return EXIT_UNSUPPORTED;
}

function usage_error(string $synopsis): int
{
    fwrite(STDERR, "usage: driver $synopsis\n");
    return EXIT_USAGE;
}

// "warned" = PHP raised a warning/notice, which is what a pcntl user sees. Every one is still
// printed to stderr so nothing is hidden; Warnings::take() tells whether any arrived since.
final class Warnings
{
    private static int $count = 0;

    public static function install(): void
    {
        set_error_handler(static function (int $no, string $message, string $file = '', int $line = 0): bool {
            if ((error_reporting() & $no) === 0) {
                return true; // silenced with @ on purpose (e.g. EAGAIN of a shared accept)
            }
            self::$count++;
            fwrite(STDERR, "PHP warning ($no): $message\n");
            return true;
        });
    }

    public static function take(): bool
    {
        $warned = self::$count > 0;
        self::$count = 0;
        return $warned;
    }
}

// Parses an integer argument or returns null.
function int_arg(array $args, int $i): ?int
{
    if (!isset($args[$i]) || preg_match('/^-?\d+$/', $args[$i]) !== 1) {
        return null;
    }
    return (int) $args[$i];
}

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

function msgmax(): int
{
    $text = @file_get_contents('/proc/sys/kernel/msgmax');
    return $text === false ? 8192 : (int) trim($text);
}
