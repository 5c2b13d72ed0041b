"""The benchmark's hello world (PEP 3333's simple_app), the same bytes tsgi sends.

gunicorn/uWSGI/waitress import `app`; run directly it serves with wsgiref:
    python3 hello_wsgi.py          (prints `listening PORT`)
"""

GREETING = b"Hello world!\n"


def app(environ, start_response):
    if environ["PATH_INFO"] != "/":
        start_response("404 Not Found", [("Content-type", "text/plain")])
        return [b"Not found\n"]
    start_response("200 OK", [("Content-type", "text/plain")])
    return [GREETING]


if __name__ == "__main__":
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()
