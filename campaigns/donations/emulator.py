"""localstripe, the local Stripe emulator, listening on loopback only.

`localstripe --port N` listens on every interface and keeps its data in a file shared by
every instance on the machine (/tmp/localstripe.pickle). This runs the same server on
127.0.0.1, with its data in a file of its own (or only in memory):

    python -m campaigns.donations.emulator --port 8420 [--data instance/localstripe.pickle]

`flask embedded` starts it when STRIPE_SECRET_KEY is unset, then registers the platform's
webhook URL with it (register_webhook). The tests start it the same way.
"""
from __future__ import annotations

import argparse
import logging
# bandit B403: localstripe keeps its own test data this way, on this machine only
import pickle  # nosec B403
import time
from pathlib import Path

WEBHOOK_ID = "threadline"
#: the events the platform acts on (see EVENT_HANDLERS in operations.py)
WEBHOOK_EVENTS = [
    "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
    "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed",
    "customer.subscription.created", "customer.subscription.updated",
    "customer.subscription.deleted",
]


def _keep_data_in(path: Path | None) -> None:
    from localstripe.resources import Store

    def load(store: Store) -> None:
        if path is not None and path.exists():
            with path.open("rb") as handle:
                # bandit B301: the emulator's own file under instance/, never uploaded data
                store.update(pickle.load(handle))  # nosec B301

    def dump(store: Store) -> None:
        if path is None:
            return
        draft = path.with_suffix(".tmp")
        with draft.open("wb") as handle:
            pickle.dump(dict(store), handle, protocol=pickle.HIGHEST_PROTOCOL)
        draft.replace(path)

    Store.try_load_from_disk = load
    Store.dump_to_disk = dump


def serve(host: str, port: int, data: Path | None) -> None:
    from aiohttp import web

    _keep_data_in(data)
    from localstripe.resources import store
    from localstripe.server import app

    store.try_load_from_disk()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s localstripe: %(message)s")
    web.run_app(app, host=host, port=port, print=None, access_log=None)


def register_webhook(api_base: str, url: str, secret: str, timeout: float = 30.0) -> None:
    """Tell the emulator where to send signed webhooks; waits for it to be up."""
    import requests

    deadline = time.monotonic() + timeout
    data = [("url", url), ("secret", secret)] + [("events[]", e) for e in WEBHOOK_EVENTS]
    while True:
        try:
            response = requests.post(f"{api_base}/_config/webhooks/{WEBHOOK_ID}", data=data, timeout=3)
            response.raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--data", type=Path, default=None,
                        help="keep the emulator's objects in this file across restarts")
    args = parser.parse_args()
    serve(args.host, args.port, args.data)


if __name__ == "__main__":
    main()


def embedded_command(config: dict, python: str) -> tuple[list[str], dict[str, str]]:
    """The emulator's command for `flask embedded`, and the settings its siblings need.

    STRIPE_API_BASE's port is used when it is free (or set explicitly); otherwise another
    free port is chosen and handed to the web server and the worker through the environment.
    """
    import os
    import socket
    from urllib.parse import urlsplit

    api_base = config["STRIPE_API_BASE"]
    port = urlsplit(api_base).port or 8420
    if "STRIPE_API_BASE" not in os.environ:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # another demo has it: take any free port
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        api_base = f"http://127.0.0.1:{port}"
    data = Path(config["INSTANCE_DIR"]) / "localstripe.pickle"
    argv = [python, "-m", "campaigns.donations.emulator", "--port", str(port), "--data", str(data)]
    env = {"STRIPE_API_BASE": api_base}
    if "STRIPE_JS_URL" not in os.environ:
        env["STRIPE_JS_URL"] = f"{api_base}/js.stripe.com/v3/"
    return argv, env
