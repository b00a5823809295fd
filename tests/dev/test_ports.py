"""The embedded nats-server of `make run` keeps its port from one run to the next."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev import ports as devports
from dev.ports import NATS_DEFAULT_PORT, PORTS_FILE, start_nats, wanted_nats_port
from dev.servers import NatsServer, free_port


@pytest.fixture
def var(tmp_path: Path, monkeypatch) -> Path:
    """An empty var/ folder, no port named in the environment."""
    monkeypatch.delenv("HEALIX_NATS_PORT", raising=False)
    return tmp_path


@pytest.fixture
def started() -> Iterator[list[NatsServer]]:
    """Servers a test started; stopped at its end whatever happened."""
    servers: list[NatsServer] = []
    yield servers
    for server in servers:
        server.stop()


def test_a_fresh_var_wants_the_default_port_which_is_not_the_standard_one(var: Path) -> None:
    # given a var/ no run has used
    # then the bus wants the stable default, never 4222 (a NATS of the user's own may be there)
    assert wanted_nats_port(var) == NATS_DEFAULT_PORT != 4222


def test_the_remembered_port_wins_over_the_default_and_the_environment_over_both(
    var: Path, monkeypatch
) -> None:
    # given a var/ whose last run remembered its port
    (var / PORTS_FILE).write_text(json.dumps({"nats": 23456}))
    # then the bus wants that port again
    assert wanted_nats_port(var) == 23456
    # and HEALIX_NATS_PORT, a port of one's choice, wins over it
    monkeypatch.setenv("HEALIX_NATS_PORT", "34567")
    assert wanted_nats_port(var) == 34567


def test_an_older_var_keeps_the_port_its_last_run_wrote_in_its_config(var: Path) -> None:
    # given a var/ of a run from before ports were kept: only its nats-server.conf has the port
    (var / "nats").mkdir()
    (var / "nats" / "nats-server.conf").write_text('# comment\nlisten: "127.0.0.1:39537"\n')
    # then the bus wants that port, the one its partners were given
    assert wanted_nats_port(var) == 39537


def test_a_restart_keeps_the_port(var: Path, monkeypatch, started) -> None:
    # given a first start on a port of our choice
    port = free_port()
    monkeypatch.setenv("HEALIX_NATS_PORT", str(port))
    first, note = start_nats(var)
    started.append(first)
    assert first.port == port
    assert f"The bus keeps port {port} on every run" in note
    first.stop()

    # when the bus starts again without a port named
    monkeypatch.delenv("HEALIX_NATS_PORT")
    again, note = start_nats(var)
    started.append(again)

    # then it listens on the same port, which var/ports.json remembers
    assert again.port == port
    assert again.client_url == first.client_url
    assert json.loads((var / PORTS_FILE).read_text()) == {"nats": port}


def test_a_port_taken_by_another_nats_server_moves_the_bus_to_a_free_one(
    var: Path, tmp_path_factory, started
) -> None:
    # given the remembered port held by another nats-server with JetStream (the dangerous
    # squatter: it answers the readiness probe as ours would)
    port = free_port()
    (var / PORTS_FILE).write_text(json.dumps({"nats": port}))
    squatter = NatsServer(tmp_path_factory.mktemp("squatter"), port)
    started.append(squatter)
    squatter.start()

    # when the bus starts
    server, note = start_nats(var)
    started.append(server)

    # then it listens on another port, its own process, and says why
    assert server.port != port
    assert server.process is not None and server.process.poll() is None
    assert note.startswith(f"Port {port} was taken, so the bus moved to {server.port};")
    # and the new port is the one remembered for the next run
    assert json.loads((var / PORTS_FILE).read_text()) == {"nats": server.port}


def test_a_port_taken_by_any_program_moves_the_bus(var: Path, started) -> None:
    # given the default port held by a program that is not a NATS server
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        (var / PORTS_FILE).write_text(json.dumps({"nats": port}))
        # when the bus starts
        server, note = start_nats(var)
        started.append(server)
    # then it moved
    assert server.port != port and f"Port {port} was taken" in note


def test_a_server_left_running_by_a_killed_run_gives_its_port_back(var: Path, started) -> None:
    # given a nats-server on var/nats that a killed launcher left running on the kept port
    port = free_port()
    (var / PORTS_FILE).write_text(json.dumps({"nats": port}))
    left = NatsServer(var / "nats", port)
    started.append(left)
    left.start()
    orphan = left.process
    left.process = None  # forgotten, as by a launcher that died

    # when the bus starts
    server, note = start_nats(var)
    started.append(server)

    # then the orphan was stopped and the bus kept its port
    assert orphan is not None and orphan.wait(10) is not None
    assert server.port == port and "was taken" not in note


def test_a_port_that_is_free_is_told_apart_from_one_listened_on() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not devports.port_is_free(port)
    assert devports.port_is_free(port)


@pytest.mark.parametrize("given", ["nats", "0", "70000", "-1"])
def test_a_port_setting_that_is_no_port_is_refused_by_name(var: Path, monkeypatch, given) -> None:
    monkeypatch.setenv("HEALIX_NATS_PORT", given)
    with pytest.raises(devports.BadPortSetting, match="HEALIX_NATS_PORT must be a TCP port"):
        wanted_nats_port(var)
