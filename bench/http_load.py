"""HTTP load for the REST benchmarks: requests/s, p99 latency and the answers' status counts.

With `wrk` installed (Debian's package `wrk`, written in C) it generates the load: on a 2-core
machine the client shares the cores with gunicorn and PostgreSQL, and wrk spends about a
quarter of what an asyncio client does per request (0.1 against 0.375 ms of CPU measured),
which leaves that much more for the server. Without wrk, an asyncio client does it.

Both open a new connection per request (`Connection: close`), as gunicorn's sync workers
serve one request per connection anyway, hold `concurrency` requests in flight, and send the
requests in the order given (cycling if wrk is faster than the list is long).

The load comes in ROUNDS rounds and the figure is the median round's, with every round's rate
printed: now and then a whole round runs at about 60 % of the others, with the web workers
waiting to read requests the client has not sent yet (seen with py-spy) and a core idle, and a
single round would then report the client's stall as the server's throughput.
"""

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import percentile

__all__ = ["Load", "Request", "client_name", "load", "warm_up"]

Request = tuple[str, str, bytes]  # method, path, body
ROUNDS = 3
# wrk runs each round for a duration; long enough to smooth out a busy moment on the machine.
WRK_SECONDS = 5

# wrk's Lua: replays the requests of a file in order; counts each status, prints them and p99.
WRK_SCRIPT = r"""
-- statuses is a global: done() reads it from each thread with thread:get().
local requests, i = {}, 0
statuses = {}
for line in io.lines(os.getenv("HEALIX_BENCH_REQUESTS")) do
  local method, path, body = line:match("^(%S+) (%S+) ?(.*)$")
  requests[#requests + 1] = wrk.format(method, path, {
    ["Authorization"] = "Api-Key " .. os.getenv("HEALIX_BENCH_KEY"),
    ["Content-Type"] = "application/json",
    ["Connection"] = "close",
  }, body ~= "" and body or nil)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
done = function(summary, latency)
  local all = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do all[status] = (all[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(all) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
  io.write(string.format('HEALIX {"p99_us": %d, "statuses": {%s}}\n',
    latency:percentile(99), table.concat(parts, ", ")))
end
"""


@dataclass(frozen=True)
class Load:
    rate: float  # requests/s
    p99: float  # seconds
    statuses: dict[int, int]
    rounds: tuple[float, ...] = ()  # every round's rate, in order


def client_name() -> str:
    return "wrk" if shutil.which("wrk") else "an asyncio client"


def load(port: int, key: str, requests: list[Request], concurrency: int) -> Load:
    """Send `requests` to 127.0.0.1:`port` with `concurrency` in flight, in ROUNDS rounds; the
    median round (by rate), with the statuses of all of them."""
    assert len(requests) >= ROUNDS, f"at least {ROUNDS} requests, one a round"
    results = []
    for part in range(ROUNDS):
        # Each round its own share of the list: a POST sent again would be a duplicate.
        share = requests[part::ROUNDS]
        if shutil.which("wrk"):
            results.append(_wrk(port, key, share, concurrency))
        else:
            results.append(asyncio.run(_asyncio_load(port, key, share, concurrency)))
    statuses: dict[int, int] = {}
    for result in results:
        for status, n in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    median = sorted(results, key=lambda result: result.rate)[len(results) // 2]
    return Load(median.rate, median.p99, statuses, tuple(result.rate for result in results))


def warm_up(port: int, key: str, requests: list[Request], concurrency: int) -> None:
    """A few requests first, so every worker has connected and imported what it needs."""
    asyncio.run(_asyncio_load(port, key, requests, concurrency))


def _wrk(port: int, key: str, requests: list[Request], concurrency: int) -> Load:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as scratch:
        script, listing = Path(scratch, "replay.lua"), Path(scratch, "requests")
        script.write_text(WRK_SCRIPT)
        # One request a line: a body is JSON, so it fits on one line once re-serialised.
        listing.write_text(
            "".join(
                f"{method} {path} {json.dumps(json.loads(body)) if body else ''}\n"
                for method, path, body in requests
            )
        )
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{WRK_SECONDS}s", "-s", str(script)]
        env = {"HEALIX_BENCH_REQUESTS": str(listing), "HEALIX_BENCH_KEY": key}
        output = subprocess.run(
            [*command, f"http://127.0.0.1:{port}"], capture_output=True, text=True, env=env
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    found = json.loads(re.search(r"^HEALIX (.*)$", output, re.M).group(1))
    statuses = {int(status): n for status, n in found["statuses"].items()}
    return Load(rate, found["p99_us"] / 1e6, statuses)


async def _request(port: int, key: str, request: Request) -> tuple[int, float]:
    method, path, body = request
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Api-Key {key}\r\n"
        "Connection: close\r\n"
    )
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1]), time.perf_counter() - started


async def _asyncio_load(port: int, key: str, requests: list[Request], concurrency: int) -> Load:
    queue = list(reversed(requests))
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            status, seconds = await _request(port, key, queue.pop())
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(seconds)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Load(len(requests) / elapsed, percentile(latencies, 0.99), statuses)
