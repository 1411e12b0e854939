"""luigid keeps its task graph across a clean restart through its state file."""

import json
import urllib.parse
import urllib.request


def call_api(url: str, method: str, payload: dict) -> dict:
    data = urllib.parse.quote(json.dumps(payload))
    with urllib.request.urlopen(f"{url}/api/{method}?data={data}", timeout=10) as reply:
        return json.load(reply)["response"]


def test_luigid_state_survives_sigterm_restart(services, postgres_uris, service_dir):
    state_path = service_dir / "restart" / "state.pickle"
    config_path = service_dir / "restart" / "luigid.cfg"
    log_path = service_dir / "restart" / "luigid.log"
    port = services.free_port()
    task = {"task_id": "Probe_restart", "family": "Probe", "params": {}}

    first = services.start_luigid(
        port, state_path, postgres_uris["luigi"], config_path, log_path
    )
    try:
        call_api(first.url, "add_task", {**task, "status": "PENDING", "worker": "test"})
    finally:
        services.stop_service(first)
    second = services.start_luigid(
        port, state_path, postgres_uris["luigi"], config_path, log_path
    )
    try:
        pending = call_api(second.url, "task_list", {"status": "PENDING"})
    finally:
        services.stop_service(second)

    assert state_path.exists()
    assert "Probe_restart" in pending
