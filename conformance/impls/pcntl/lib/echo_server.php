<?php
// `driver echo-server` in BASE style (SRV-BASE-1): pcntl_fork'ed workers accept on one shared
// listening socket and each owns the connections it accepted; the original process is the manager
// (restarts a worker that dies, SRV-BASE-2), or the only process when --workers 1.
declare(strict_types=1);

final class EchoWorker
{
    private bool $stopping = false;
    /** @var array<int, array{0: \Socket, 1: Decoder}> */
    private array $connections = [];

    public function __construct(private \Socket $listener, private $newDecoder)
    {
    }

    public function run(): int
    {
        pcntl_async_signals(true);
        pcntl_signal(SIGTERM, function (): void {
            $this->stopping = true;
        });
        // A forked worker starts with SIGTERM blocked (spawn_worker): one sent meanwhile is taken now.
        pcntl_sigprocmask(SIG_UNBLOCK, [SIGTERM]);
        while (!$this->stopping) {
            $read = [$this->listener];
            foreach ($this->connections as [$socket]) {
                $read[] = $socket;
            }
            $write = $except = null;
            if (@socket_select($read, $write, $except, 1) === false) {
                continue; // EINTR: the loop condition sees a SIGTERM
            }
            foreach ($read as $socket) {
                $socket === $this->listener ? $this->accept() : $this->serve($socket);
            }
        }
        foreach (array_keys($this->connections) as $id) {
            $this->close($id);
        }
        socket_close($this->listener);
        return 0;
    }

    private function accept(): void
    {
        // Every worker polls the shared socket; the losers of the race get EAGAIN.
        $socket = @socket_accept($this->listener);
        if ($socket !== false) {
            $this->connections[spl_object_id($socket)] = [$socket, ($this->newDecoder)()];
        }
    }

    private function serve(\Socket $socket): void
    {
        $id = spl_object_id($socket);
        $n = @socket_recv($socket, $data, 65536, 0);
        if (!is_int($n) || $n <= 0) {
            $this->close($id);
            return;
        }
        [$packets, $closeReason] = $this->connections[$id][1]->feed($data);
        foreach ($packets as $packet) {
            if (!$this->sendAll($socket, $packet)) {
                $this->close($id);
                return;
            }
        }
        if ($closeReason !== null) {
            fwrite(STDERR, "echo-server: closing connection: $closeReason\n");
            $this->close($id);
        }
    }

    private function sendAll(\Socket $socket, string $data): bool
    {
        while ($data !== '') {
            $n = @socket_write($socket, $data);
            if ($n === false) {
                return false;
            }
            $data = substr($data, $n);
        }
        return true;
    }

    private function close(int $id): void
    {
        socket_close($this->connections[$id][0]);
        unset($this->connections[$id]);
    }
}

function spawn_worker(\Socket $listener, callable $newDecoder): int
{
    // SIGTERM stays blocked from the fork until the worker's own handler is in place: before that
    // the child still runs the manager's PHP handler, which would swallow a stop sent right after
    // the fork (the worker then ran on until max_wait_time's SIGKILL).
    pcntl_sigprocmask(SIG_BLOCK, [SIGTERM], $previous);
    $pid = fork_child(static function () use ($listener, $newDecoder): int {
        // pcntl_fork keeps the manager's handlers: a worker takes the default actions again.
        pcntl_signal(SIGTERM, SIG_DFL);
        pcntl_signal(SIGUSR1, SIG_DFL);
        pcntl_signal(SIGUSR2, SIG_DFL);
        return (new EchoWorker($listener, $newDecoder))->run();
    });
    pcntl_sigprocmask(SIG_SETMASK, $previous);
    return $pid;
}

// SRV-11/SRV-14 reload: each worker in turn is stopped (SIGTERM: it answers what it read, closes
// its connections), reaped (SIGKILL after max_wait_time, 3 s) and replaced before the next one
// stops, so the others keep serving. Reloads asked for during a reload make one more round.
function reload_workers(array &$pids, \Socket $listener, callable $newDecoder, bool &$stopping): void
{
    foreach (array_keys($pids) as $old) {
        if ($stopping) {
            return;
        }
        if (!isset($pids[$old])) {
            continue;
        }
        $id = $pids[$old];
        posix_kill($old, SIGTERM);
        reap($old, 3.0);
        unset($pids[$old]);
        $pids[spawn_worker($listener, $newDecoder)] = $id;
    }
}

function describe_status(?int $status): string
{
    if ($status === null) {
        return 'not reaped';
    }
    if (pcntl_wifexited($status)) {
        return 'exit ' . pcntl_wexitstatus($status);
    }
    return pcntl_wifsignaled($status) ? 'signal ' . pcntl_wtermsig($status) : "status $status";
}

// The manager: restarts dead workers and reloads them on SIGUSR1/SIGUSR2 (no task workers here,
// so both reload the workers) until SIGTERM, then stops and reaps every one of them.
function run_manager(\Socket $listener, callable $newDecoder, int $workers): int
{
    $stopping = false;
    $reloads = 0;
    // restart_syscalls=false: a blocking pcntl_wait must return on these signals (SA_RESTART would resume it).
    pcntl_async_signals(true);
    pcntl_signal(SIGTERM, static function () use (&$stopping): void {
        $stopping = true;
    }, false);
    foreach ([SIGUSR1, SIGUSR2] as $reloadSignal) {
        pcntl_signal($reloadSignal, static function () use (&$reloads): void {
            $reloads++;
        }, false);
    }
    $pids = [];
    for ($id = 0; $id < $workers; $id++) {
        $pids[spawn_worker($listener, $newDecoder)] = $id;
    }
    while (!$stopping) {
        if ($reloads > 0) {
            $reloads = 0;
            reload_workers($pids, $listener, $newDecoder, $stopping);
            continue;
        }
        $pid = pcntl_wait($status);
        if ($pid > 0 && isset($pids[$pid]) && !$stopping) {
            $id = $pids[$pid];
            unset($pids[$pid]);
            fwrite(STDERR, "echo-server: worker $id (pid $pid) exited, status $status; restarting\n");
            $pids[spawn_worker($listener, $newDecoder)] = $id;
        }
    }
    foreach (array_keys($pids) as $pid) {
        posix_kill($pid, SIGTERM);
    }
    $clean = true;
    foreach (array_keys($pids) as $pid) {
        $status = reap($pid, 3.0); // max_wait_time 3 s, then SIGKILL
        // A worker SIGTERMed before its handler was installed ended as asked: that is clean too.
        $ok = $status !== null && ((pcntl_wifexited($status) && pcntl_wexitstatus($status) === 0)
            || (pcntl_wifsignaled($status) && pcntl_wtermsig($status) === SIGTERM));
        if (!$ok) {
            fwrite(STDERR, "echo-server: worker pid $pid did not stop cleanly: " . describe_status($status) . "\n");
        }
        $clean = $clean && $ok;
    }
    socket_close($listener);
    return $clean ? 0 : 1;
}

function echo_server(array $args): int
{
    $opts = echo_server_options($args);
    if ($opts === null) {
        return usage_error(ECHO_SERVER_SYNOPSIS);
    }
    if ($opts['--mode'] !== 'base') {
        return unsupported("mode {$opts['--mode']}: pcntl has no reactor threads or master/worker channel, only BASE-style forked acceptors");
    }
    if (!in_array($opts['--ipc'], ['uds-dgram', 'uds-stream', 'sysvmsg', 'thread'], true)) {
        return usage_error(ECHO_SERVER_SYNOPSIS);
    }
    $workers = (int) $opts['--workers'];
    if ((string) $workers !== $opts['--workers'] || $workers < 1) {
        fwrite(STDERR, "echo-server: --workers must be a positive integer\n");
        return EXIT_USAGE;
    }
    $newDecoder = decoder_factory($opts['--framing']);
    if (is_string($newDecoder)) {
        fwrite(STDERR, "echo-server: settings error: $newDecoder\n");
        return EXIT_USAGE;
    }
    pcntl_signal(SIGPIPE, SIG_IGN);
    $listener = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
    if ($listener === false || !socket_bind($listener, '127.0.0.1', 0) || !socket_listen($listener, 512)) {
        fwrite(STDERR, "echo-server: cannot listen on 127.0.0.1:0: " . socket_strerror(socket_last_error()) . "\n");
        return 1;
    }
    socket_set_nonblock($listener);
    socket_getsockname($listener, $address, $port);
    fwrite(STDOUT, "listening $port\n");
    if ($workers === 1) {
        return (new EchoWorker($listener, $newDecoder))->run();
    }
    return run_manager($listener, $newDecoder, $workers);
}
