"""pyinstrument over N in-process requests (Flask test client): where a request's CPU goes.

    python bench/profile_inprocess.py page|sign [N]   (app environment; cwd = the app's root;
                                                       database seeded by bench/seed.py)
"""
from __future__ import annotations

import os
import sys
import uuid

sys.path.insert(0, os.getcwd())

from pyinstrument import Profiler  # noqa: E402

from wsgi import app  # noqa: E402


def main(what: str, n: int) -> None:
    client = app.test_client()

    def page():
        assert client.get("/c/bench-1").status_code == 200

    def sign():
        response = client.post("/api/v1/campaigns/bench-1/signatures", json={
            "first_name": "Ana", "last_name": "Silva", "country": "DE", "public": True,
            "consent_updates": True, "email": f"pi-{uuid.uuid4().hex[:10]}@bench.example"})
        assert response.status_code == 202, response.data

    call = {"page": page, "sign": sign}[what]
    for _ in range(5):
        call()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(n):
        call()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200)
