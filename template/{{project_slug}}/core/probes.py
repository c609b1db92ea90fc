"""Let the orchestrator's probes through Django's host check.

Kubernetes probes and load balancers address a pod by its IP, which no DJANGO_ALLOWED_HOSTS lists:
Django would answer 400 and the pod would never turn ready. This middleware, first in MIDDLEWARE,
answers the liveness and readiness paths before anything reads the Host header. Every other path,
/health/queues/ included (it names the queues), goes through the host check as usual.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import views

PROBES = {"/health/live/": views.live, "/health/ready/": views.ready}


class ProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
