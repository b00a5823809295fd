"""docs/deploy.md documents the cluster configuration the tests run (issue 19, item 5): its
block is what bus/nats_config.py's cluster_config() writes for the documented hosts, the same
function dev/nats_cluster.py uses for the nodes of tests/e2e/faults/test_nats_cluster.py."""

from bus.nats_config import cluster_config
from dev.servers import BASE_DIR

DEPLOY = BASE_DIR / "docs" / "deploy.md"


def test_the_documented_cluster_section_is_the_one_the_tests_run():
    written = cluster_config(
        "healix-0",
        6222,
        [(f"nats-{n}.internal", 6222) for n in range(3)],
        "<ROUTE_PASSWORD>",
        route_host="0.0.0.0",
    )
    assert f"```\n{written}```" in DEPLOY.read_text()
