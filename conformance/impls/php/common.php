<?php
// Shared by the PHP drivers (pcntl, swoole): JSON lines, symbolic errno names, warning capture.
// Needs nothing beyond PHP core, so it loads whichever extensions are present.
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

// The implementation name for messages; each driver sets it first.
$GLOBALS['procspec_driver_name'] = 'php';

function unsupported(string $why): int
{
    fwrite(STDERR, "{$GLOBALS['procspec_driver_name']} driver: unsupported: $why\n");
    return EXIT_UNSUPPORTED;
}

function usage_error(string $synopsis): int
{
    fwrite(STDERR, "usage: driver $synopsis\n");
    return EXIT_USAGE;
}

const ECHO_SERVER_SYNOPSIS = 'echo-server --mode base|process|thread --workers N --framing SPEC --ipc CHANNEL';

// echo-server's options (SPEC IUT) over their defaults; null for an unknown option or one
// without a value (the caller answers with the usage error).
function echo_server_options(array $args): ?array
{
    $opts = ['--mode' => 'base', '--workers' => '1', '--framing' => 'none', '--ipc' => 'uds-dgram'];
    for ($i = 0; $i < count($args); $i += 2) {
        if (!isset($opts[$args[$i]], $args[$i + 1])) {
            return null;
        }
        $opts[$args[$i]] = $args[$i + 1];
    }
    return $opts;
}

// "warned" = PHP raised a warning/notice, which is what a PHP user sees. Every one is still
// printed to stderr so nothing is hidden; Warnings::take() tells whether any arrived since.
final class Warnings
{
    private static int $count = 0;
    private static ?string $last = null;

    public static function install(): void
    {
        set_error_handler(static function (int $no, string $message, string $file = '', int $line = 0): bool {
            if ((error_reporting() & $no) === 0) {
                return true; // silenced with @ on purpose (e.g. EAGAIN of a shared accept)
            }
            self::$count++;
            self::$last = $message;
            fwrite(STDERR, "PHP warning ($no): $message\n");
            return true;
        });
    }

    // The text of the latest warning since the last take() (what a user would read), or null.
    public static function lastMessage(): ?string
    {
        return self::$last;
    }

    public static function take(): bool
    {
        $warned = self::$count > 0;
        self::$count = 0;
        self::$last = null;
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

// Linux signal numbers by name: probes take "SIGUSR1" or "10". Kept here because PHP defines the
// SIG* constants only with ext/pcntl (Swoole defines them only when pcntl is absent).
const SIGNAL_NUMBERS = [
    'SIGHUP' => 1, 'SIGINT' => 2, 'SIGQUIT' => 3, 'SIGILL' => 4, 'SIGTRAP' => 5, 'SIGABRT' => 6, 'SIGBUS' => 7,
    'SIGFPE' => 8, 'SIGKILL' => 9, 'SIGUSR1' => 10, 'SIGSEGV' => 11, 'SIGUSR2' => 12, 'SIGPIPE' => 13,
    'SIGALRM' => 14, 'SIGTERM' => 15, 'SIGSTKFLT' => 16, 'SIGCHLD' => 17, 'SIGCONT' => 18, 'SIGSTOP' => 19,
    'SIGTSTP' => 20, 'SIGTTIN' => 21, 'SIGTTOU' => 22, 'SIGURG' => 23, 'SIGXCPU' => 24, 'SIGXFSZ' => 25,
    'SIGVTALRM' => 26, 'SIGPROF' => 27, 'SIGWINCH' => 28, 'SIGIO' => 29, 'SIGPWR' => 30, 'SIGSYS' => 31,
];

// A signal argument ("SIGTERM", "TERM" or "15") as its number, or null.
function signal_arg(array $args, int $i): ?int
{
    $text = $args[$i] ?? '';
    if (preg_match('/^-?\d+$/', $text) === 1) {
        return (int) $text;
    }
    $name = strtoupper($text);
    return SIGNAL_NUMBERS[$name] ?? SIGNAL_NUMBERS["SIG$name"] ?? null;
}

function msgmax(): int
{
    $text = @file_get_contents('/proc/sys/kernel/msgmax');
    return $text === false ? 8192 : (int) trim($text);
}
