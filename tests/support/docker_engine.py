"""Whether a Docker engine answers: the engine, not the client. A machine can have the
`docker` command (so `docker --version` works) and no daemon behind it."""

from __future__ import annotations


def docker_engine_problem() -> str | None:
    """None when an engine answers a ping, else why not (to print as a skip reason)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:  # any failure to reach an engine means: none here
        return f"no Docker engine answers ({type(error).__name__}: {str(error)[:200]})"
    return None
