"""The FastAPI application: wiring of store, settings, metrics and routers."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import truceline
from truceline.access.policy import Permission, Principal
from truceline.api import (
    routes_access,
    routes_agreement,
    routes_daily_report,
    routes_incidents,
    routes_ledger,
    routes_nodes,
    routes_observations,
    routes_reports,
    routes_stream,
    routes_tracks,
)
from truceline.api.auth import require
from truceline.api.availability import install_unavailable_handler
from truceline.api.integrity import install_integrity_handler
from truceline.api.metrics import Metrics
from truceline.api.routes_observations import json_response
from truceline.bus.inproc import InProcessBus
from truceline.bus.ports import Bus
from truceline.domain.observation import Observation
from truceline.federate.forwarder import UpstreamConfig
from truceline.federate.node import start_node
from truceline.ledger.checkpoint import ensure_ledger_key, existing_ledger_key
from truceline.ledger.witness import WitnessWriter
from truceline.service import batch_parser
from truceline.service.fuser_lock import FuserLock, fuser_holder
from truceline.service.fusion import FusionWorker
from truceline.service.fusion_process import FusionProcess
from truceline.service.listeners import cot_listener_for
from truceline.service.live_tracks import FeedCollector, LiveTracks
from truceline.service.settings import Settings
from truceline.store.ports import Store
from truceline.web import routes as web

_DESCRIPTION = """truceline ingests observations of a ceasefire from many contributors and serves what it
knows. Every `/api/v1` call needs `Authorization: Bearer <key>`. Times are UTC ISO 8601 with an offset."""


def create_app(settings: Settings, store: Store, bus: Bus | None = None, fuser_lock: FuserLock | None = None) -> FastAPI:
    """Build the app around an open store (and bus); the caller owns the store's life cycle.

    In-process fusion (``settings.fusion``) needs the data dir's fuser lock: pass ``fuser_lock`` when it is
    already taken (the CLI takes it before changing anything); else the start takes it or fails with
    :class:`~truceline.service.fuser_lock.FuserBusy`. The app releases the lock when it stops.
    """
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        switch_interval = sys.getswitchinterval()
        thresholds = gc.get_threshold()
        if settings.fusion and app.state.fuser_lock is None:
            app.state.fuser_lock = FuserLock.acquire(settings.data_dir)  # first: a busy data dir starts nothing
        if not settings.cluster:  # in cluster mode the sequencer signs the heads it appends
            app.state.witness = WitnessWriter(lambda: app.state.store.ledger_checkpoint(app.state.ledger_key), settings.data_dir, settings.witness_every_s)
            await run_in_threadpool(app.state.witness.start)
        # The parser processes and the fusion process start side by side: each spends its start importing, on
        # its own core (0.4 s and 0.8 s of a server's ~3 s start before).
        starting: list[Any] = []
        if settings.parse_workers > 0:
            # Spawned, and each worker dies with this process even on kill -9 (see truceline.service.procs).
            starting.append(batch_parser.start_pool(settings.parse_workers))
        if settings.fusion:
            starting.append(run_in_threadpool(app.state.fusion.start))
        started = await asyncio.gather(*starting, return_exceptions=True)
        if settings.parse_workers > 0 and not isinstance(started[0], BaseException):
            app.state.parser_pool = started[0]
        failed = [outcome for outcome in started if isinstance(outcome, BaseException)]
        if failed:  # neither part outlives a start that failed
            if app.state.parser_pool is not None:
                app.state.parser_pool.shutdown(cancel_futures=True)
            if settings.fusion:
                await run_in_threadpool(app.state.fusion.stop)
            raise failed[0]
        if settings.mqtt_url:
            app.state.mqtt = _mqtt_intake(app, settings)
            app.state.mqtt.start()
        app.state.cot = cot_listener_for(app.state, settings)
        if settings.upstream_url:
            app.state.forwarder = await run_in_threadpool(start_node, store, upstream_config(settings), app.state.metrics.registry, settings.data_dir)  # type: ignore[arg-type]
        try:
            if app.state.cot is not None:
                await app.state.cot.start()  # a port that cannot be bound stops the server with the OSError
            await app.state.live_tracks.start()
            # Everything made so far lives as long as the server: keep it out of every later full collection
            # (which the objects of each ingested batch trigger) instead of scanning it again each time.
            gc.collect()
            gc.freeze()
            if settings.gc_first_threshold is not None:
                gc.set_threshold(settings.gc_first_threshold, *thresholds[1:])
            if settings.switch_interval_s is not None:
                sys.setswitchinterval(settings.switch_interval_s)
            yield
        finally:
            sys.setswitchinterval(switch_interval)
            gc.set_threshold(*thresholds)
            if app.state.forwarder is not None:
                await run_in_threadpool(app.state.forwarder.stop)
                app.state.forwarder = None
            await app.state.live_tracks.stop()
            if app.state.cot is not None:
                await app.state.cot.stop()
                app.state.cot = None
            if app.state.mqtt is not None:
                await run_in_threadpool(app.state.mqtt.stop)
                app.state.mqtt = None
            await run_in_threadpool(app.state.fusion.stop)
            if app.state.witness is not None:  # after every writer: the witness covers what they stored
                await run_in_threadpool(app.state.witness.stop)
            if app.state.fuser_lock is not None:
                app.state.fuser_lock.release()
                app.state.fuser_lock = None
            app.state.bus.close()
            if app.state.parser_pool is not None:
                app.state.parser_pool.shutdown(cancel_futures=True)
                app.state.parser_pool = None

    app = FastAPI(title="truceline", version=truceline.__version__, description=_DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = Metrics()
    app.state.parser_pool = None
    app.state.mqtt = None
    app.state.cot = None
    app.state.forwarder = None
    app.state.fuser_lock = fuser_lock
    app.state.witness = None
    app.state.bus = bus or InProcessBus()
    # A replica never creates the ledger key: the sequencer (a worker) does, in the shared data dir.
    app.state.ledger_key = existing_ledger_key(settings.data_dir) if settings.cluster else ensure_ledger_key(settings.data_dir)
    if settings.fusion and settings.fusion_process:
        app.state.fusion = FusionProcess(settings.data_dir, store, app.state.bus)  # type: ignore[arg-type]
    else:
        app.state.fusion = FusionWorker(store, app.state.bus)  # type: ignore[arg-type]
    app.state.agreement = routes_agreement.AgreementHolder(store)  # type: ignore[arg-type]
    app.state.live_tracks = LiveTracks(store, ais=settings.ais_feeds, adsb=settings.adsb_feeds, in_force=app.state.agreement.get)
    app.state.metrics.registry.register(FeedCollector(app.state.live_tracks))
    app.include_router(routes_observations.router)
    app.include_router(routes_access.router)
    app.include_router(routes_stream.router)
    app.include_router(routes_ledger.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_incidents.router)
    app.include_router(routes_agreement.router)
    app.include_router(routes_daily_report.router)
    app.include_router(routes_nodes.router)
    app.include_router(routes_tracks.router)
    _add_system_routes(app)
    _add_metrics_middleware(app)
    _add_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def upstream_config(settings: Settings) -> UpstreamConfig:
    """The forwarder's configuration from the server's settings (a national node's ``--upstream``)."""
    if not settings.upstream_key:
        raise ValueError("a national node needs the hub's key (upstream_key) beside upstream_url")
    url = (settings.upstream_url or "").rstrip("/")
    return UpstreamConfig(
        url=url, key=settings.upstream_key, node=settings.node_name, alert_after_s=settings.upstream_alert_after_s,
        pull_every_s=settings.upstream_pull_every_s,
    )


def _mqtt_intake(app: FastAPI, settings: Settings) -> Any:
    """The MQTT subscription of ``settings`` (see :mod:`truceline.service.mqtt_intake`), not yet started."""
    from truceline.service.mqtt_intake import MqttConfig, MqttIntake, client_id_for

    if not settings.mqtt_org:
        raise ValueError("an MQTT subscription needs the organisation it writes for (mqtt_org)")
    config = MqttConfig(
        url=settings.mqtt_url or "",
        org=settings.mqtt_org,
        client_id=client_id_for(settings.data_dir),
        topic=settings.mqtt_topic,
        max_items=settings.max_batch_items,
        clock_skew=settings.clock_skew,
    )
    return MqttIntake(app.state, config)


def _add_system_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["system"], summary="Liveness and database check (open, says only whether healthy)")
    async def healthz(request: Request) -> Response:
        """Open to anyone, so it tells nothing an attacker could use: no pid, command line, path or version."""
        await run_in_threadpool(request.app.state.store.schema_version)  # raises (500) if the database is gone
        return json_response({"status": "ok"})

    @app.get("/metrics", tags=["system"], summary="Prometheus metrics (operational figures only; needs a key)")
    async def metrics(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ_METRICS))]) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/status", tags=["system"], summary="Operator's status: versions, fusion holder, listeners")
    async def status(request: Request, principal: Annotated[Principal, Depends(require(Permission.READ_STATUS))]) -> Response:
        """What /healthz used to tell everyone (fusion holder's pid and command line, data dir), for admins and
        supervisors only."""
        version = await run_in_threadpool(request.app.state.store.schema_version)
        body: dict[str, Any] = {
            "status": "ok", "version": truceline.__version__, "schema_version": version,
            "data_dir": str(request.app.state.settings.data_dir),
        }
        if request.app.state.mqtt is not None:
            body["mqtt"] = {"connected": request.app.state.mqtt.connected.is_set(), "topic": request.app.state.mqtt.config.topic}
        body["fusion"] = await run_in_threadpool(_fusion_health, request.app)
        bus = request.app.state.bus
        if hasattr(bus, "connected"):  # cluster mode: is this replica connected to NATS right now?
            body["bus"] = {"connected": bus.connected, "events_lost": bus.events_lost}
        if request.app.state.live_tracks.feeds:
            body["feeds"] = {s["name"]: s["status"] for s in request.app.state.live_tracks.states()}
        return json_response(body)

    web.install(app)  # the analyst's page at /, its files under /static, and /api/v1/whoami


def _fusion_health(app: FastAPI) -> dict[str, Any]:
    """Who fuses this data dir: this server, another process (``truceline fuse``), or nobody (``off``)."""
    if app.state.settings.cluster:
        return {"mode": "cluster", "detail": "`truceline worker` processes fuse, sector by sector"}
    lock: FuserLock | None = app.state.fuser_lock
    if lock is not None:
        worker: FusionWorker | FusionProcess = app.state.fusion
        health: dict[str, Any] = {"mode": "in-process", "holder": lock.holder.as_dict(), "errors": worker.errors, "last_error": worker.last_error}
        if isinstance(worker, FusionProcess):  # the server holds the lock; its child fuses
            health.update(mode="child-process", process={"pid": worker.pid, "restarts": worker.restarts})
        return health
    holder = fuser_holder(app.state.settings.data_dir)
    return {"mode": "off"} if holder is None else {"mode": "external", "holder": holder.as_dict()}


def _add_metrics_middleware(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics)


class RequestMetrics:
    """Counts each HTTP request by method, route and status, and its latency up to the response's start.

    A plain ASGI middleware, not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs the rest of
    the app in a task group of its own and passes the body and the response through memory streams, per request,
    in the event loop's thread, which every request and the SQLite writer share (docs/performance.md, "Fifth round").
    A request whose handler raises an exception no handler answers is not counted, as before.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                metrics: Metrics = scope["app"].state.metrics
                metrics.requests.labels(scope["method"], path, str(message["status"])).inc()
                metrics.latency.labels(path).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, counted)


def _add_error_handlers(app: FastAPI) -> None:
    install_integrity_handler(app, json_response)
    install_unavailable_handler(app, json_response)

    @app.exception_handler(RequestValidationError)
    async def query_errors(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"], "rule": err["type"]} for err in exc.errors()
        ]
        return json_response({"detail": "invalid request parameters", "errors": errors}, 422)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the observation model's definitions, which the raw-body route references."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    defs = TypeAdapter(Observation).json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(defs.pop("$defs", {}))
    components["Observation"] = defs
    schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    schema["security"] = [{"bearer": []}]
    app.openapi_schema = schema
    return schema
