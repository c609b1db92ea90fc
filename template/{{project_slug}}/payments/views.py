"""The payment provider's webhook: verify, store once, answer fast; the work happens in tasks.

Every request the view cannot take gets a 4xx with a message of its own words, never a 500 and
never an exception's text: 400 for a missing or unreadable signature header or a body that is no
payment, 403 for a signature that does not match or is too old, 413 for a body over Django's
DATA_UPLOAD_MAX_MEMORY_SIZE.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import signatures
from .payloads import InvalidPayload, payload_parse
from .webhooks import InvalidPaymentEvent, webhook_event_receive


# A provider cannot send a CSRF token; the HMAC signature authenticates it instead.
@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        signatures.verify(
            request.headers.get(signatures.SIGNATURE_HEADER, ""),
            body,
            secret=settings.PAYMENTS_WEBHOOK_SECRET,
            tolerance=settings.PAYMENTS_WEBHOOK_TOLERANCE_SECONDS,
        )
    except signatures.MalformedSignature as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except signatures.SignatureRefused as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    try:
        event, created = webhook_event_receive(payload=payload_parse(body))
    except (InvalidPayload, InvalidPaymentEvent) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"event": event.pk, "created": created}, status=202 if created else 200)
