import re
import uuid

from sitaware.core.context import request_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Gives each request an id (or keeps a well-formed X-Request-ID) and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        with request_context(request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
