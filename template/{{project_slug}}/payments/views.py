"""The payment provider's webhook: verify, store once, answer fast; the work happens in tasks."""

import hashlib
import hmac
import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .services import webhook_event_receive

SIGNATURE_HEADER = "X-Webhook-Signature"


def webhook_signature(body: bytes) -> str:
    """HMAC-SHA256 of the raw body with the shared secret, as the provider computes it."""
    secret = settings.PAYMENTS_WEBHOOK_SECRET.encode()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


# A provider cannot send a CSRF token; the HMAC signature authenticates it instead.
@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(signature, webhook_signature(request.body)):
        return JsonResponse({"error": "bad signature"}, status=403)
    try:
        payload = json.loads(request.body)
        event, created = webhook_event_receive(external_id=str(payload["id"]), payload=payload)
    except (ValueError, KeyError, TypeError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"event": event.pk, "created": created}, status=202 if created else 200)
