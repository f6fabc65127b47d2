"""moto_server with DynamoDB requests serialised.

moto's DynamoDB backend is not thread-safe: TransactWriteItems deep-copies
the table while other request threads change it ("dictionary changed size
during iteration", answered as HTTP 500). Real DynamoDB and LocalStack have
no such problem. This wrapper runs moto's own WSGI app, threaded as
moto_server does, but lets one DynamoDB request run at a time; SQS and the
rest stay concurrent (SQS long polls must not block DynamoDB).

Usage: python3 localstack/moto_server.py [-H 127.0.0.1] [-p 4566]
"""
import argparse
import os
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))

    inner = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def app(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with lock:
                return list(inner(environ, start_response))
        return inner(environ, start_response)

    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
