"""WSGI entry point: Django's request handler. Production serves HTTP with it under granian (a server written in
Rust: the request's parsing and its hand-over to a Python thread cost a fraction of what they cost in an asyncio
server); config.asgi serves it too, for WebSockets beside it in one process (`make run`).

Behind a proxy, FORWARDED_ALLOW_IPS names the proxies (comma-separated, or *) whose X-Forwarded-For and
X-Forwarded-Proto are believed: REMOTE_ADDR, which the audit log records, is then the client's address.
"""

import os

from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

BLOCK = 1024 * 1024


class UnsizedBody:
    """The body of a request sent without a Content-Length (chunked), readable to its end. Django's own request
    would read none of it; a read of everything at once (`request.body`) stops at DATA_UPLOAD_MAX_MEMORY_SIZE with
    Django's 400, as a sized body does, while readers in pieces (the import) measure it themselves."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, size=-1, /):
        from django.conf import settings
        from django.core.exceptions import RequestDataTooBig

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (size is None or size < 0) and limit is not None:
            data = self._stream.read(limit + 1)
            if len(data) > limit:
                raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
            return data
        return self._stream.read(size)

    def readline(self, size=-1, /):
        return self._stream.readline(size)


class Request(WSGIRequest):
    def __init__(self, environ):
        super().__init__(environ)
        if environ.get("CONTENT_LENGTH") in (None, "") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", ""):
            self._stream = UnsizedBody(environ["wsgi.input"])


class FileBlocks:
    """`wsgi.file_wrapper`: a FileResponse is sent a megabyte at a time (Django's own blocks are 4 KiB, and each
    block crosses from the request's thread to the event loop)."""

    def __init__(self, filelike, block_size=BLOCK):
        self.filelike, self.block_size = filelike, max(block_size, BLOCK)

    def __iter__(self):
        while block := self.filelike.read(self.block_size):
            yield block

    def close(self):
        self.filelike.close()


class Handler(WSGIHandler):
    request_class = Request

    def __call__(self, environ, start_response):
        environ.setdefault("wsgi.file_wrapper", FileBlocks)
        return super().__call__(environ, start_response)


get_wsgi_application()  # django.setup(), as Django's own entry point does
application = Handler()
if os.environ.get("FORWARDED_ALLOW_IPS"):
    from granian.utils.proxies import wrap_wsgi_with_proxy_headers

    application = wrap_wsgi_with_proxy_headers(application, os.environ["FORWARDED_ALLOW_IPS"].strip())

from django.urls import get_resolver  # noqa: E402

from config.heap import freeze_startup_heap  # noqa: E402

get_resolver().url_patterns  # noqa: B018 - the views' modules, imported now so that the freeze below keeps them
freeze_startup_heap()
