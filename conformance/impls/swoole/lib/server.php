<?php
// Swoole\Server: the echo-server (SRV-*, BASE and PROCESS modes) and the frame probe (FRM-*), both
// using Swoole's own protocol settings for the framing SPEC.
declare(strict_types=1);

use Swoole\Process;
use Swoole\Server;

// Framing SPEC (SPEC IUT) → Swoole port settings, or an error message. Values are passed as given:
// Swoole's own checks (and its silent raise of package_max_length to 64 KiB, FRM-5) apply.
function framing_settings(string $spec): array|string
{
    $parts = explode(':', $spec);
    if ($parts === ['none']) {
        return [];
    }
    if ($parts[0] === 'length' && count($parts) === 5) {
        return ['open_length_check' => true, 'package_length_type' => $parts[1],
                'package_length_offset' => (int) $parts[2], 'package_body_offset' => (int) $parts[3],
                'package_max_length' => (int) $parts[4]];
    }
    if (($parts[0] === 'eof-split' || $parts[0] === 'eof-check') && count($parts) === 3) {
        $eof = ctype_xdigit($parts[1]) && strlen($parts[1]) % 2 === 0 ? hex2bin($parts[1]) : false;
        if ($eof === false) {
            return "package_eof '{$parts[1]}' is not hex";
        }
        return [$parts[0] === 'eof-split' ? 'open_eof_split' : 'open_eof_check' => true,
                'package_eof' => $eof, 'package_max_length' => (int) $parts[2]];
    }
    return "unknown framing '$spec'";
}

function echo_server(array $args): int
{
    $opts = echo_server_options($args);
    if ($opts === null) {
        return usage_error(ECHO_SERVER_SYNOPSIS);
    }
    $mode = $opts['--mode'];
    if ($mode === 'thread') {
        return unsupported('THREAD mode needs a ZTS PHP with --enable-swoole-thread and a bootstrap script; not written');
    }
    if ($mode !== 'base' && $mode !== 'process') {
        return usage_error(ECHO_SERVER_SYNOPSIS);
    }
    // Swoole's reactor→worker channel is always a unix dgram socketpair (MessageBus); BASE has none.
    if ($mode === 'process' && $opts['--ipc'] !== 'uds-dgram') {
        return unsupported("ipc {$opts['--ipc']}: Swoole's PROCESS mode forwards over unix dgram socketpairs only");
    }
    $framing = framing_settings($opts['--framing']);
    if (is_string($framing)) {
        fwrite(STDERR, "echo-server: settings error: $framing\n");
        return EXIT_USAGE;
    }
    $server = new Server('127.0.0.1', 0, $mode === 'base' ? SWOOLE_BASE : SWOOLE_PROCESS, SWOOLE_SOCK_TCP);
    $server->set(['worker_num' => (int) $opts['--workers'], 'log_file' => '/dev/stderr', 'max_wait_time' => 3,
                  'enable_coroutine' => false] + $framing);
    $server->on('Receive', static function (Server $server, int $fd, int $reactorId, string $data): void {
        $server->send($fd, $data);
    });
    fwrite(STDOUT, "listening {$server->port}\n"); // the port is bound by the constructor
    $server->start();
    return 0;
}

// frame SPEC: stdin's bytes go to a single-process BASE server through a TCP client; the server
// prints each packet, the client reports whether the server closed the connection.
function probe_frame(array $args): int
{
    $framing = framing_settings($args[0] ?? '');
    if (is_string($framing)) {
        fwrite(STDERR, "frame: settings error: $framing\n");
        return EXIT_USAGE;
    }
    $input = stream_get_contents(STDIN);
    $server = new Server('127.0.0.1', 0, SWOOLE_BASE, SWOOLE_SOCK_TCP);
    $server->set(['worker_num' => 1, 'log_file' => '/dev/stderr', 'enable_coroutine' => false] + $framing);
    $server->on('Receive', static function (Server $server, int $fd, int $reactorId, string $data): void {
        emit(['len' => strlen($data), 'hex' => bin2hex($data)]);
    });
    $port = $server->port;
    $serverPid = getmypid(); // single-process BASE: this process is the worker
    $clientPid = 0;
    $server->on('WorkerStart', static function (Server $server) use ($input, $port, $serverPid, &$clientPid): void {
        $clientPid = sw_start(static function () use ($input, $port, $serverPid): int {
            $client = stream_socket_client("tcp://127.0.0.1:$port", $errno, $error, 2.0);
            if ($client === false) {
                Process::kill($serverPid, SIGTERM);
                return 1;
            }
            fwrite($client, $input);
            stream_set_timeout($client, 1);
            while (!feof($client)) {
                fread($client, 65536);
                if (stream_get_meta_data($client)['timed_out']) {
                    break; // still open: the server kept the connection
                }
            }
            if (feof($client)) {
                emit(['closed' => 'server closed the connection']);
            }
            fclose($client);
            usleep(100000); // the last packet line is printed before the server stops
            Process::kill($serverPid, SIGTERM);
            return 0;
        })->pid;
    });
    $server->start();
    if ($clientPid > 0) {
        sw_reap($clientPid);
    }
    return 0;
}
