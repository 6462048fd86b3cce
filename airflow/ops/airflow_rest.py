"""A small client of Airflow 3's REST API (``/auth/token``, ``/api/v2``): trigger a run, wait for it.

Used by ``make trigger`` / ``make run-dag`` against the native Airflow (airflow/ops/native.py) and
against the docker-compose stack (airflow/compose/stack.py), so both trigger and follow a run the
same way. Standard library only: the compose helper runs with the system's python3.

Run ids: a run for an explicit date is a manual backfill named ``manual_backfill_<D>`` (the original
project's naming), a ranged run ``manual_backfill_<S>_to_<E>``; a repeat gets ``_2``, ``_3``, ...
so every run keeps its own id and its own logs.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DAG_ID = "rr_funnel_daily"
TERMINAL = ("success", "failed")


class RestError(RuntimeError):
    """The API said no, or did not answer; the message says which call and why."""


@dataclass
class Response:
    status: int
    body: Any


class AirflowRest:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._token: str | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Response:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                return Response(response.status, json.loads(raw) if raw else None)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail: Any = json.loads(raw).get("detail", raw.decode("utf-8", "replace"))
            except (ValueError, AttributeError):
                detail = raw.decode("utf-8", "replace")
            return Response(exc.code, {"detail": detail})
        except (urllib.error.URLError, OSError) as exc:
            raise RestError(f"{method} {self.base_url}{path}: no answer ({exc})") from None

    def _ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self._call(method, path, body)
        if response.status >= 300:
            detail = response.body.get("detail") if isinstance(response.body, dict) else response.body
            raise RestError(f"{method} {path}: HTTP {response.status}: {detail}")
        return response.body

    def token(self) -> str:
        if self._token is None:
            response = self._call(
                "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
            )
            if response.status >= 300 or not isinstance(response.body, dict):
                raise RestError(
                    f"login as {self.username!r} at {self.base_url}/auth/token refused (HTTP {response.status})"
                )
            self._token = response.body["access_token"]
        return self._token

    # -- the API ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``/api/v2/monitor/health``: each component's status (no login needed)."""
        response = self._call("GET", "/api/v2/monitor/health", auth=False)
        if response.status >= 300:
            raise RestError(f"GET /api/v2/monitor/health: HTTP {response.status}")
        return response.body

    def dag(self, dag_id: str = DAG_ID) -> dict[str, Any] | None:
        response = self._call("GET", f"/api/v2/dags/{dag_id}")
        if response.status == 404:
            return None
        if response.status >= 300:
            raise RestError(f"GET /api/v2/dags/{dag_id}: HTTP {response.status}: {response.body}")
        return response.body

    def dag_details(self, dag_id: str = DAG_ID) -> dict[str, Any]:
        return self._ok("GET", f"/api/v2/dags/{dag_id}/details")

    def import_errors(self) -> list[dict[str, Any]]:
        return self._ok("GET", "/api/v2/importErrors")["import_errors"]

    def set_paused(self, paused: bool, dag_id: str = DAG_ID) -> None:
        self._ok("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def runs(self, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        return self._ok("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=100")["dag_runs"]

    def run(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, Any]:
        return self._ok("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=500"
        return self._ok("GET", path)["task_instances"]

    def trigger(self, conf: Mapping[str, Any], run_id: str | None = None, dag_id: str = DAG_ID) -> str:
        """Create a manual run; with ``run_id`` the first free one of ``run_id``, ``run_id_2``, ..."""
        candidates = [None] if run_id is None else [run_id] + [f"{run_id}_{n}" for n in range(2, 1000)]
        for candidate in candidates:
            body: dict[str, Any] = {"logical_date": None, "conf": dict(conf)}
            if candidate is not None:
                body["dag_run_id"] = candidate
            response = self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
            if response.status == 409:  # that run id exists: a repeat of the same date
                continue
            if response.status >= 300:
                detail = response.body.get("detail") if isinstance(response.body, dict) else response.body
                raise RestError(
                    f"triggering {dag_id} with conf {dict(conf)}: HTTP {response.status}: {detail}"
                )
            return response.body["dag_run_id"]
        raise RestError(f"no free run id left for {run_id}")

    def wait(
        self,
        run_id: str,
        timeout: float,
        dag_id: str = DAG_ID,
        poll: float = 2.0,
        on_progress: Callable[[dict[str, str]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll the run until it succeeds or fails (RestError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        shown: dict[str, str] = {}
        while True:
            run = self.run(run_id, dag_id)
            if on_progress is not None:
                states = {t["task_id"]: str(t["state"]) for t in self.task_instances(run_id, dag_id)}
                changed = {k: v for k, v in states.items() if shown.get(k) != v}
                if changed:
                    on_progress(changed)
                    shown.update(changed)
            if run["state"] in TERMINAL:
                return run
            if time.monotonic() >= deadline:
                raise RestError(f"run {run_id} is still {run['state']} after {timeout:.0f} s")
            time.sleep(poll)


def backfill_run_id(conf: Mapping[str, str]) -> str | None:
    """The run id of a manual backfill (repeats get ``_2``, ...): ``manual_backfill_<D>`` for
    conf ``target_date`` D, ``manual_backfill_<S>_to_<E>`` for a range; None without dates (the
    API names the run)."""
    if conf.get("target_date"):
        return f"manual_backfill_{conf['target_date']}"
    if conf.get("start_date") and conf.get("end_date"):
        return f"manual_backfill_{conf['start_date']}_to_{conf['end_date']}"
    return None


def describe_conf(conf: Mapping[str, str]) -> str:
    if conf.get("target_date"):
        return f"target_date {conf['target_date']}"
    if conf.get("start_date"):
        return f"dates {conf['start_date']} .. {conf['end_date']}"
    return "no date: the DAG reports on the last complete day the raw data cover"


def print_progress(changed: Mapping[str, str]) -> None:
    """One line per task that starts, succeeds or fails (not the ones that never run)."""
    for task_id, state in sorted(changed.items()):
        if state in ("running", "success", "failed", "up_for_retry"):
            print(f"  {state:<13}{task_id}", flush=True)


def summarize(client: AirflowRest, run_id: str, dag_id: str = DAG_ID) -> tuple[str, list[str]]:
    """The run's state and, when it failed, what failed (the tasks that did not run counted)."""
    run = client.run(run_id, dag_id)
    states = [(t["task_id"], str(t["state"])) for t in client.task_instances(run_id, dag_id)]
    failed = [f"{task_id} failed" for task_id, state in states if state == "failed"]
    skipped = sum(1 for _, state in states if state == "upstream_failed")
    if skipped:
        failed.append(f"{skipped} task(s) downstream did not run")
    return run["state"], failed


def trigger_and_follow(client: AirflowRest, conf: Mapping[str, str], *, wait: bool, timeout: float) -> int:
    """Trigger one run with ``conf`` (validated by the caller: ``RunDates.conf()`` of
    seeds_loader/rules.py, or {} for the date a run started now reports on), unpausing the DAG if
    needed, and follow it to its end; 0 when it succeeded."""
    dag = client.dag()
    if dag is None:
        raise RestError(f"{DAG_ID} is not imported: see the dag-processor's log and /api/v2/importErrors")
    if dag.get("is_paused"):
        client.set_paused(False)
        print(
            f"unpaused {DAG_ID}: from now on the scheduler also starts it every day at 09:00 Asia/Seoul, "
            "beginning with the last 09:00 that has passed (on historical data that run stops in "
            "check_raw_freshness: nothing covers yesterday)"
        )
    run_id = client.trigger(conf, backfill_run_id(conf))
    print(f"triggered {DAG_ID} run {run_id} ({describe_conf(conf)})", flush=True)
    if not wait:
        return 0
    client.wait(run_id, timeout, on_progress=print_progress)
    state, bad = summarize(client, run_id)
    if state != "success":
        print(f"run {run_id}: {state}; " + "; ".join(bad), file=sys.stderr)
        return 1
    print(f"run {run_id}: success")
    return 0


def describe_health(health: dict[str, Any]) -> list[str]:
    """Print the API's health (one line per component); return the components not healthy."""
    bad = []
    for component, info in sorted(health.items()):
        status = info.get("status") if isinstance(info, dict) else info
        beat = (
            next((v for k, v in info.items() if "heartbeat" in k), None) if isinstance(info, dict) else None
        )
        print(f"  {component:<16}{status}" + (f" (last heartbeat {beat})" if beat else ""))
        if status != "healthy":
            bad.append(component)
    return bad
