"""Serve a class from several app processes: N `streamlit run app.py` replicas behind nginx.

    scripts/serve_class.sh N [--listen 127.0.0.1] [--port P] [--ports P1,P2,...]
                             [--max-jobs J] [--cookie-secret S] [--upstream HOST:PORT ...]
                             [--run-dir DIR] [--state-file FILE] [--nginx PATH] [--no-warm]
                             [--startup-timeout 240]

In order (docs/deploy.md says when and why):

1. takes N free loopback ports for the replicas (or --ports) and one for the proxy (or --port);
2. writes nginx.conf into a run directory (a new temporary one unless --run-dir) and checks it
   with `nginx -t`;
3. starts the N replicas on 127.0.0.1, each in a process group of its own, each with its own
   training-job cap (RNNVIZ_MAX_JOBS = --max-jobs), RNNVIZ_TORCH_THREADS=1 unless set, and one
   server.cookieSecret for all of them (--cookie-secret, else $RNNVIZ_COOKIE_SECRET, else a new
   random one per launch), passed in the environment so `ps` does not show it;
4. waits until every replica (and every --upstream started elsewhere) answers /_stcore/health
   and runs the app once on each (a fresh server's first deep link shows "Page not found",
   streamlit#9992: the teacher cannot open every replica by hand through a sticky proxy);
5. runs Debian's nginx in the foreground from the run directory (`nginx -p RUN -c
   RUN/nginx.conf`: no system config, logs and pid in RUN), waits for /_stcore/health through
   it, prints the proxy URL and waits.

Ctrl-C, SIGTERM, SIGHUP or any failure stops everything it started (nginx first, then every
replica's process group, training jobs included) and removes the run directory unless it was
given. On Linux each child also gets SIGTERM if this launcher is killed outright (SIGKILL).

Session affinity: a Streamlit session is one websocket plus HTTP requests (uploads, media) that
must reach the process holding it, or uploads fail with "400 Invalid session_id"
(streamlit#2936, #4173). `ip_hash` would put a whole class behind one NAT (or a benchmark on
127.0.0.1) on one replica, and Debian's nginx has no `sticky`. So nginx hashes a cookie it sets
itself: a request without a valid `rnnlab_route` cookie is routed by its own $request_id and
gets that id as its cookie, so every later request of that browser hashes to the same replica
(`hash ... consistent`: adding or losing a replica moves only that replica's share). Clients
without cookies (the benchmark's websocket clients) are spread at random, one websocket each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUTE_COOKIE = "rnnlab_route"
SECRET_ENV = "RNNVIZ_COOKIE_SECRET"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class LaunchError(Exception):
    """Something the launcher started failed, or could not start: everything is stopped."""


class StopRequested(Exception):
    """Ctrl-C, SIGTERM or SIGHUP."""


# ---- ports and processes -----------------------------------------------------------------


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports nobody listens on now (all held open together, so no duplicates)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now (SO_REUSEADDR, as servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_launcher() -> None:
    """Runs in the child before exec: SIGTERM to it when the launcher dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


@dataclass
class Child:
    """A process the launcher started, leader of its own process group."""

    name: str
    proc: subprocess.Popen
    log: Path
    noticed_exit: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def group_alive(self) -> bool:
        self.proc.poll()  # reap the leader: a zombie would still count as a group member
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - the group id was reused by someone else
            return False
        return True

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def spawn(name: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> Child:
    out = log.open("wb")
    try:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,  # own group: stopped whole
            preexec_fn=_die_with_launcher if sys.platform.startswith("linux") else None,
        )
    finally:
        out.close()  # the child holds its own copy
    return Child(name, proc, log)


def stop_all(children: list[Child], grace_s: float = 10.0) -> list[str]:
    """SIGTERM every child's whole group, then SIGKILL what is left after ``grace_s``.
    Returns the names of groups that still had processes after the SIGKILL (none expected)."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        alive = [c for c in children if c.group_alive()]
        for c in alive:
            c.signal_group(sig)
        deadline = time.monotonic() + wait_s
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [c for c in alive if c.group_alive()]
    for c in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            c.proc.wait(timeout=1)
    return [c.name for c in children if c.group_alive()]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=3) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


async def warm(url: str, timeout_s: float) -> None:
    """Open the app's home page once over Streamlit's websocket, as a browser's first visit
    does, and wait for the run to finish (it pays the imports and registers the pages)."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = BackMsg()
    msg.rerun_script.SetInParent()
    msg.rerun_script.page_name = ""
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"

    async def run() -> None:
        async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=timeout_s) as ws:
            await ws.send(msg.SerializeToString())
            async for data in ws:
                reply = ForwardMsg()
                reply.ParseFromString(data)
                if reply.WhichOneof("type") == "script_finished":
                    return
        raise LaunchError(f"{url} closed the websocket before the first run finished")

    await asyncio.wait_for(run(), timeout_s)


# ---- nginx ---------------------------------------------------------------------------------


def max_upload_mb() -> int:
    """server.maxUploadSize from .streamlit/config.toml (Streamlit's default 200 without it)."""
    try:
        text = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    except OSError:
        return 200
    m = re.search(r"^\s*maxUploadSize\s*=\s*(\d+)", text, flags=re.M)
    return int(m.group(1)) if m else 200


def worker_user() -> str:
    """nginx's `user` line: as root its workers must run as someone else; nginx's built-in
    default group "nobody" does not exist on Debian (it is "nogroup")."""
    if os.geteuid() != 0:
        return ""  # workers stay this user; nginx ignores `user` anyway
    import grp
    import pwd

    nobody = pwd.getpwnam("nobody")
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"


def nginx_config(run_dir: Path, listen: str, port: int, upstreams: list[str],
                 body_mb: int) -> str:
    """The whole nginx.conf: everything it writes stays in ``run_dir``."""
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=10s;" for u in upstreams)
    tmp = run_dir / "nginx-tmp"
    valid = '"~^[0-9a-f]{32}$"'  # what $request_id looks like
    return f"""# Written by scripts/serve_class.py for one launch: nginx -p {run_dir} -c nginx.conf
{worker_user()}
worker_processes 1;  # one event loop carries a classroom; the cores go to the replicas
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx-error.log warn;
daemon off;
worker_rlimit_nofile 8192;  # a websocket is two connections (student, replica)
events {{ worker_connections 4096; }}

http {{
    # Nothing is written outside the run directory, and nothing is buffered to disk at all.
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    log_format rnnlab '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                      'upstream=$upstream_addr route=$rnnlab_route time=$request_time';
    access_log {run_dir}/nginx-access.log rnnlab;

    # Affinity: a browser keeps the replica its first request was hashed to, by a cookie
    # holding that request's id (see scripts/serve_class.py). Works for many sessions behind
    # one address, unlike ip_hash.
    map $cookie_{ROUTE_COOKIE} $rnnlab_route {{
        {valid} $cookie_{ROUTE_COOKIE};
        default $request_id;
    }}
    map $cookie_{ROUTE_COOKIE} $rnnlab_set_cookie {{
        {valid} "";
        default "{ROUTE_COOKIE}=$request_id; Path=/; HttpOnly; SameSite=Lax";
    }}
    # Websocket upgrades pass through; other requests reuse kept-alive upstream connections.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" "";
    }}

    upstream rnnlab {{
        hash $rnnlab_route consistent;
{servers}
        keepalive 16;
    }}

    server {{
        listen {listen}:{port};
        client_max_body_size {body_mb}m;  # Streamlit's own cap (config.toml) decides
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;  # Streamlit's websocket origin check compares it
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_max_temp_file_size 0;
        add_header Set-Cookie $rnnlab_set_cookie always;  # empty: no header
        add_header X-Upstream $upstream_addr always;  # which replica answered (tests, debugging)

        location / {{
            proxy_pass http://rnnlab;
        }}
        # A session's websocket stays open, quiet between a student's keystrokes, all lesson.
        location /_stcore/stream {{
            proxy_pass http://rnnlab;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
        }}
    }}
}}
"""


# ---- the launcher --------------------------------------------------------------------------


@dataclass
class Launcher:
    args: argparse.Namespace
    run_dir: Path | None = None
    own_run_dir: bool = False
    replicas: list[Child] = field(default_factory=list)
    replica_urls: list[str] = field(default_factory=list)
    nginx: Child | None = None
    url: str = ""
    proxy_port: int = 0
    nginx_path: str = "nginx"

    @property
    def children(self) -> list[Child]:
        return [c for c in (self.nginx, *self.replicas) if c is not None]

    def _nginx_command(self, *extra: str) -> list[str]:
        assert self.run_dir is not None
        return [self.nginx_path, "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"),
                "-e", str(self.run_dir / "nginx-error.log"), *extra]

    def start(self) -> None:
        a = self.args
        if a.replicas < 0 or a.replicas + len(a.upstream) < 1:
            raise LaunchError("nothing to serve: give N >= 1 replicas or an --upstream")
        found = shutil.which(a.nginx)
        if found is None:
            raise LaunchError(f"nginx not found ({a.nginx}): install Debian's nginx "
                              "(apt-get install nginx; scripts/test.sh does as root)")
        self.nginx_path = found
        if a.ports:
            ports = [int(p) for p in a.ports.split(",")]
            if len(ports) != a.replicas or len(set(ports)) != len(ports):
                raise LaunchError(f"--ports needs {a.replicas} distinct ports, got {a.ports}")
            busy = [p for p in ports if not port_is_free(p)]
            if busy:
                raise LaunchError(f"replica port(s) already in use: {busy}")
        else:
            ports = free_ports(a.replicas)
        self.proxy_port = a.port or free_ports(1, a.listen)[0]
        if not port_is_free(self.proxy_port, a.listen):
            raise LaunchError(f"proxy port {a.listen}:{self.proxy_port} is already in use")
        if a.run_dir:
            self.run_dir = Path(a.run_dir).resolve()
            self.run_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.run_dir = Path(tempfile.mkdtemp(prefix="rnnlab-class-"))
            self.own_run_dir = True
        (self.run_dir / "nginx-tmp").mkdir(exist_ok=True)
        self.replica_urls = [f"http://127.0.0.1:{p}" for p in ports]
        upstreams = [f"127.0.0.1:{p}" for p in ports] + list(a.upstream)
        conf = nginx_config(self.run_dir, a.listen, self.proxy_port, upstreams,
                            max_upload_mb() + 1)
        (self.run_dir / "nginx.conf").write_text(conf, encoding="utf-8")
        check = subprocess.run(self._nginx_command("-t", "-q"), capture_output=True, text=True,
                               timeout=30, check=False)
        if check.returncode != 0:
            raise LaunchError(f"nginx rejected {self.run_dir / 'nginx.conf'}:\n"
                              f"{check.stdout}{check.stderr}")

        secret = a.cookie_secret or os.environ.get(SECRET_ENV) or secrets.token_hex(32)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "RNNVIZ_MAX_JOBS": str(a.max_jobs),
               "STREAMLIT_SERVER_COOKIE_SECRET": secret}
        env.setdefault("RNNVIZ_TORCH_THREADS", "1")  # docs/deploy.md: one thread per process
        env.pop(SECRET_ENV, None)
        for i, port in enumerate(ports, 1):
            command = [sys.executable, "-m", "streamlit", "run", "app.py",
                       "--server.headless", "true", "--server.port", str(port),
                       "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
                       "--browser.gatherUsageStats", "false"]
            child = spawn(f"replica {i}", command, self.run_dir / f"replica-{i}.log", env)
            self.replicas.append(child)
            print(f"replica {i}: http://127.0.0.1:{port} (pid {child.pid}, "
                  f"RNNVIZ_MAX_JOBS={a.max_jobs})", flush=True)
        self._wait_healthy()
        if not a.no_warm:
            asyncio.run(self._warm_all())

        self.nginx = spawn("nginx", self._nginx_command(), self.run_dir / "nginx.out")
        print(f"nginx: pid {self.nginx.pid}, run directory {self.run_dir}", flush=True)
        local = "127.0.0.1" if a.listen in ("0.0.0.0", "") else a.listen
        self.url = f"http://{local}:{self.proxy_port}"
        deadline = time.monotonic() + 30
        while not healthy(self.url):
            if not self.nginx.alive():
                raise LaunchError(f"nginx exited with status {self.nginx.proc.returncode}:\n"
                                  f"{self._nginx_log_tail()}")
            if time.monotonic() > deadline:
                raise LaunchError(f"no /_stcore/health through nginx at {self.url} after 30 s:\n"
                                  f"{self._nginx_log_tail()}")
            time.sleep(0.2)
        self._write_state()
        shown = self.url
        if a.listen in ("0.0.0.0", ""):
            shown = f"http://{socket.gethostname()}:{self.proxy_port}"
        print(f"RNN Lab for the class: {shown}  ({a.replicas} replica(s)"
              f"{f' + {len(a.upstream)} elsewhere' if a.upstream else ''}; Ctrl-C stops "
              "everything)", flush=True)

    def _wait_healthy(self) -> None:
        urls = self.replica_urls + [f"http://{u}" for u in self.args.upstream]
        pending = set(urls)
        deadline = time.monotonic() + self.args.startup_timeout
        while pending:
            for child in self.replicas:
                if not child.alive():
                    raise LaunchError(f"{child.name} exited with status "
                                      f"{child.proc.returncode} before it was healthy; its "
                                      f"log:\n{child.log_tail()}")
            pending = {u for u in pending if not healthy(u)}
            if pending and time.monotonic() > deadline:
                raise LaunchError(f"not healthy after {self.args.startup_timeout:.0f} s: "
                                  f"{', '.join(sorted(pending))}")
            if pending:
                time.sleep(0.5)

    async def _warm_all(self) -> None:
        urls = self.replica_urls + [f"http://{u}" for u in self.args.upstream]
        results = await asyncio.gather(*(warm(u, self.args.startup_timeout) for u in urls),
                                       return_exceptions=True)
        failed = [f"{u}: {type(r).__name__} {r}" for u, r in zip(urls, results, strict=True)
                  if isinstance(r, BaseException)]
        if failed:
            raise LaunchError("the app's first run failed on " + "; ".join(failed))

    def _nginx_log_tail(self) -> str:
        assert self.run_dir is not None
        parts = []
        for name in ("nginx-error.log", "nginx.out"):
            with contextlib.suppress(OSError):
                parts.append((self.run_dir / name).read_text(errors="replace")[-2000:])
        return "".join(parts) or "(no nginx log)"

    def _write_state(self) -> None:
        """What a test or benchmark needs to find everything (never the cookie secret)."""
        if not self.args.state_file:
            return
        assert self.run_dir is not None and self.nginx is not None
        state = {
            "url": self.url,
            "port": self.proxy_port,
            "run_dir": str(self.run_dir),
            "launcher_pid": os.getpid(),
            "max_jobs": self.args.max_jobs,
            "replicas": [{"url": u, "port": int(u.rsplit(":", 1)[1]), "pid": c.pid}
                         for u, c in zip(self.replica_urls, self.replicas, strict=True)],
            "upstreams": list(self.args.upstream),
            "nginx": {"pid": self.nginx.pid, "config": str(self.run_dir / "nginx.conf"),
                      "access_log": str(self.run_dir / "nginx-access.log"),
                      "error_log": str(self.run_dir / "nginx-error.log")},
            "route_cookie": ROUTE_COOKIE,
        }
        path = Path(self.args.state_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(path)  # whole or absent: a reader polls for it

    def serve(self) -> None:
        """Until a signal: nginx dying ends everything; a replica dying is reported (nginx
        sends its students to the others, with fresh sessions) unless none is left."""
        assert self.nginx is not None
        while True:
            time.sleep(0.5)
            if not self.nginx.alive():
                raise LaunchError(f"nginx exited with status {self.nginx.proc.returncode}:\n"
                                  f"{self._nginx_log_tail()}")
            for child in self.replicas:
                if not child.alive() and not child.noticed_exit:
                    child.noticed_exit = True
                    print(f"WARNING: {child.name} exited with status {child.proc.returncode}; "
                          f"its sessions are lost. Log tail:\n{child.log_tail(1500)}",
                          file=sys.stderr, flush=True)
            if not self.args.upstream and not any(c.alive() for c in self.replicas):
                raise LaunchError("every replica has exited")

    def stop(self) -> None:
        if self.nginx is not None:  # first: no new requests to replicas that are going away
            stop_all([self.nginx])
        left = stop_all(self.replicas)
        if left:
            print(f"WARNING: still running after SIGKILL: {', '.join(left)}", file=sys.stderr)
        if self.args.state_file:
            with contextlib.suppress(OSError):
                Path(self.args.state_file).unlink()
        if self.own_run_dir and self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        print("stopped: nginx and every replica", flush=True)


def default_max_jobs(replicas: int) -> int:
    """Training jobs per replica so that all replicas together leave predictions a core
    (docs/deploy.md), but at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, ((cores or 1) - 1) // max(1, replicas))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="serve_class.sh", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("replicas", type=int, metavar="N", help="app processes to start here")
    ap.add_argument("--listen", default="127.0.0.1",
                    help="address nginx listens on (0.0.0.0 for a classroom network; "
                         "default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="nginx's port (default: a free one)")
    ap.add_argument("--ports", default="",
                    help="comma-separated loopback ports for the N replicas (default: free ones)")
    ap.add_argument("--max-jobs", type=int, default=None,
                    help="RNNVIZ_MAX_JOBS of each replica: its cap on concurrent training jobs "
                         "(default: (cores - 1) // N, at least 1)")
    ap.add_argument("--cookie-secret", default="",
                    help=f"server.cookieSecret shared by every replica (default ${SECRET_ENV}, "
                         "else a new random one); give the same one to replicas on other hosts")
    ap.add_argument("--upstream", action="append", default=[], metavar="HOST:PORT",
                    help="a replica started elsewhere (same app version and cookie secret); "
                         "repeatable")
    ap.add_argument("--run-dir", default="",
                    help="keep nginx.conf, logs and pid here (default: a temporary directory, "
                         "removed at exit)")
    ap.add_argument("--state-file", default="",
                    help="write the URL, ports and pids here as JSON once serving (removed at "
                         "exit)")
    ap.add_argument("--nginx", default="nginx", help="the nginx binary (default: nginx on PATH, "
                                                     "else /usr/sbin/nginx)")
    ap.add_argument("--no-warm", action="store_true",
                    help="do not run the app once on each replica before serving")
    ap.add_argument("--startup-timeout", type=float, default=240.0,
                    help="seconds a replica may take to become healthy and run once")
    args = ap.parse_args(argv)
    if args.max_jobs is None:
        args.max_jobs = default_max_jobs(args.replicas)
    if args.nginx == "nginx" and shutil.which("nginx") is None:
        args.nginx = "/usr/sbin/nginx"  # Debian installs it outside a normal user's PATH
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def request_stop(signum: int, _frame: object) -> None:
        raise StopRequested(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, request_stop)
    launcher = Launcher(args)
    status = 0
    try:
        launcher.start()
        launcher.serve()
    except StopRequested as why:
        print(f"\n{why}: stopping ...", flush=True)
    except LaunchError as exc:
        print(f"serve_class: {exc}", file=sys.stderr, flush=True)
        status = 1
    except BaseException as exc:  # a bug here must still not leave servers behind
        print(f"serve_class: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        launcher.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
